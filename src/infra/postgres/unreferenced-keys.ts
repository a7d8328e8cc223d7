import type { UnreferencedKeyStore } from '../../commands/key-collector.ts';
import { instanceKeyDeletedChannel } from './postgres-instance-keyring.ts';
import type { Pool } from './pool.ts';

export function postgresUnreferencedKeys(pool: Pool): UnreferencedKeyStore {
  return {
    async candidates(graceMs) {
      const { rows } = await pool.query<{ key_id: string; instance_name: string }>(
        `SELECT k.key_id, k.instance_name FROM instance_keys k
         LEFT JOIN instance_s3_config c
           ON c.instance_name = k.instance_name AND c.secret_key_id = k.key_id
         WHERE k.created_at < now() - make_interval(secs => $1) AND c.instance_name IS NULL
         ORDER BY k.created_at`,
        [graceMs / 1000],
      );
      return rows.map((row) => ({ keyId: row.key_id, instance: row.instance_name }));
    },
    async collect(keyId, graceMs) {
      await pool.query(
        `WITH deleted AS (
           DELETE FROM instance_keys
           WHERE key_id = $1 AND created_at < now() - make_interval(secs => $2)
           RETURNING key_id
         )
         SELECT pg_notify($3, key_id) FROM deleted`,
        [keyId, graceMs / 1000, instanceKeyDeletedChannel],
      );
    },
  };
}
