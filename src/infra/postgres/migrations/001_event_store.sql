-- The Postgres event store. Each stream's current revision lives in event_streams so that an
-- append can check its expected revision with one row lock; events carry the id of the
-- transaction that wrote them, so readers can tell which positions can no longer be filled in
-- by a transaction still in flight.
CREATE TABLE event_streams (
  stream_name text PRIMARY KEY,
  revision bigint NOT NULL
);

CREATE TABLE events (
  global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stream_name text NOT NULL,
  stream_revision bigint NOT NULL,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream_name, stream_revision)
);

CREATE INDEX events_in_log_order ON events (transaction_id, global_position);
