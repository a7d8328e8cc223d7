-- The read model: what the projection folds out of the instance-s3-* streams, one row per
-- instance. Disabling empties the fields and the secret reference, as the API answers it.
-- `stowage replay` rebuilds this table beside it and swaps it in by renaming, so nothing else may
-- reference it by foreign key or view.
CREATE TABLE instance_s3_config (
  instance_name text PRIMARY KEY,
  enabled boolean NOT NULL,
  region text NOT NULL DEFAULT '',
  bucket text NOT NULL DEFAULT '',
  access_key text NOT NULL DEFAULT '',
  endpoint text NOT NULL DEFAULT '',
  path_prefix text NOT NULL DEFAULT '',
  -- The sealed secret in force and what opens it: the key material's id and the revision of the
  -- event that sealed it (both are part of the sealed envelope's context).
  secret_key_id text,
  secret_ciphertext text,
  secret_revision bigint,
  -- Stream revision of the last event applied: an event at or below it is already in the row.
  revision bigint NOT NULL,
  updated_at timestamptz NOT NULL,
  -- Who made the last change: {"tokenKind": ..., "tokenId": ...}.
  updated_by jsonb NOT NULL,
  CHECK ((secret_key_id IS NULL) = (secret_ciphertext IS NULL)),
  CHECK ((secret_key_id IS NULL) = (secret_revision IS NULL)),
  CHECK (enabled OR secret_key_id IS NULL)
);

-- How far each projection has read the log, committed with the rows it wrote. A LogPosition is
-- two unsigned 64-bit parts compared in order (Postgres store: transaction id, global position;
-- EventStoreDB: commit, prepare position), hence numeric(20).
CREATE TABLE projection_checkpoints (
  name text PRIMARY KEY,
  position_major numeric(20) NOT NULL,
  position_minor numeric(20) NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
