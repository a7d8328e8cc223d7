-- Key material of each enablement, kept outside the immutable event log so that it can be
-- destroyed. Secrets in events are sealed to public_key; the private half is stored only sealed
-- to the service's master key. Disabling an instance nulls the private half and the MAC key
-- (crypto-shredding): every ciphertext of that enablement becomes unreadable, while the events
-- keep the audit trail.
CREATE TABLE instance_keys (
  key_id text PRIMARY KEY,
  instance_name text NOT NULL,
  public_key bytea NOT NULL,
  sealed_private_key bytea,
  mac_key bytea,
  master_key_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz,
  CHECK ((destroyed_at IS NULL) = (sealed_private_key IS NOT NULL AND mac_key IS NOT NULL))
);

CREATE INDEX instance_keys_by_instance ON instance_keys (instance_name);
