-- Tests of an instance's STORED credentials, asked by an API process and answered by a worker:
-- only the worker holds the master secret key that opens the stored secret. The API inserts a
-- request and NOTIFYs; a worker claims it (FOR UPDATE SKIP LOCKED), probes the bucket and writes
-- the answer, which never contains the secret. The asking API process deletes the row once
-- answered or given up; workers delete rows left behind by an API process that died meanwhile.
CREATE TABLE credential_test_requests (
  request_id uuid PRIMARY KEY,
  instance_name text NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  -- After this nobody waits for the answer: workers leave the request alone.
  answer_by timestamptz NOT NULL,
  claimed_at timestamptz,
  answer jsonb
);

CREATE INDEX credential_test_requests_unclaimed ON credential_test_requests (requested_at)
  WHERE claimed_at IS NULL;
