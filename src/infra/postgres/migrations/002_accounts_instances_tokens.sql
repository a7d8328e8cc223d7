-- Who may act on which instance. Instance names are global (they name the event streams
-- `instance-s3-<name>`), so the name is the key. Tokens are stored as a SHA-256 of their secret
-- part only; the token itself is shown once, when it is created.
CREATE TABLE accounts (
  id text PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instances (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
  account_id text NOT NULL REFERENCES accounts (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Lets an instance token's (instance, account) pair be checked by a foreign key.
  UNIQUE (name, account_id)
);

CREATE TABLE access_tokens (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('account', 'instance')),
  account_id text NOT NULL REFERENCES accounts (id),
  instance_name text,
  hash bytea NOT NULL CHECK (octet_length(hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  CHECK ((kind = 'instance') = (instance_name IS NOT NULL)),
  -- An instance token can only name an instance of its own account.
  FOREIGN KEY (instance_name, account_id) REFERENCES instances (name, account_id)
);
