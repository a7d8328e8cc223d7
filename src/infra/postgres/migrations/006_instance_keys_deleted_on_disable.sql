-- Crypto-shredding by DELETE: a disable removes the key row instead of nulling its columns, so
-- no live row version keeps the sealed private key (dead tuples, WAL and backups still do until
-- the master key they are sealed to is rotated away and destroyed; see the README).
DELETE FROM instance_keys WHERE destroyed_at IS NOT NULL;
ALTER TABLE instance_keys DROP COLUMN destroyed_at;
ALTER TABLE instance_keys ALTER COLUMN sealed_private_key SET NOT NULL;
ALTER TABLE instance_keys ALTER COLUMN mac_key SET NOT NULL;

-- `stowage keys rotate` and `keys status` look keys up by the master key they are sealed to.
CREATE INDEX instance_keys_by_master_key ON instance_keys (master_key_id, key_id);
