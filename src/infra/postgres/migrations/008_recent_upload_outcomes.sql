-- What the console charts and lists per instance: completed/failed uploads per hour and the last
-- few outcomes. Bounded: the worker deletes hours older than 7 days and keeps 20 outcomes per
-- instance when it writes. Like instance_upload_status these facts are not in the event log, so
-- `stowage replay` leaves them alone.
CREATE TABLE instance_upload_hourly (
  instance_name text NOT NULL,
  hour timestamptz NOT NULL,
  completed integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_name, hour)
);

CREATE TABLE instance_recent_uploads (
  id bigserial PRIMARY KEY,
  instance_name text NOT NULL,
  at timestamptz NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('completed', 'failed')),
  -- The object key of a completed upload, the reason of a failed one.
  detail text NOT NULL
);
CREATE INDEX instance_recent_uploads_by_instance ON instance_recent_uploads (instance_name, at DESC, id DESC);
