import type { EventStore } from '../../event-sourcing/event-store.ts';
import {
  collectUnreferencedKeys,
  type UnreferencedKeyStore,
} from '../../commands/key-collector.ts';
import type { Logger } from '../logger.ts';
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

const hourMs = 60 * 60_000;

/** The projector role's collection, hourly, of keys over an hour old; returns its stop. */
export function collectUnreferencedKeysHourly(
  pool: Pool,
  eventStore: Pick<EventStore, 'readStream'>,
  logger: Logger,
): () => Promise<void> {
  const collect = () =>
    collectUnreferencedKeys({ store: postgresUnreferencedKeys(pool), eventStore, graceMs: hourMs })
      .then((outcome) => {
        if (outcome.collected > 0) logger.info(outcome, 'collected unreferenced instance keys');
      })
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'collecting unreferenced instance keys failed'),
      );
  const timer = setInterval(() => void collect(), hourMs);
  timer.unref();
  return async () => clearInterval(timer);
}
