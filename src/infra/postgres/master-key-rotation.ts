import { masterKeypairFor, type MasterKey } from '../master-keys.ts';
import { openSealed, sealTo } from '../sealing.ts';
import { inTransaction, type Pool } from './pool.ts';

export interface MasterKeyCount {
  masterKeyId: string;
  instanceKeys: number;
}

/** How many instance keys are sealed to each master key, most first. */
export async function countByMasterKey(pool: Pool): Promise<MasterKeyCount[]> {
  const { rows } = await pool.query<{ master_key_id: string; n: number }>(
    `SELECT master_key_id, count(*)::int AS n FROM instance_keys
     GROUP BY master_key_id ORDER BY n DESC, master_key_id`,
  );
  return rows.map((row) => ({ masterKeyId: row.master_key_id, instanceKeys: row.n }));
}

export interface RotationProgress {
  /** Instance keys re-sealed to the current master key so far. */
  resealed: number;
  /** Instance keys left on master keys this process does not hold, by master key id. */
  notHeld: ReadonlyMap<string, number>;
}

export interface RotationOptions {
  batchSize: number;
  onBatch?: (progress: RotationProgress) => void;
}

/**
 * Re-seals every instance key sealed to an older master key to the current one, one batch per
 * transaction, so it can be stopped at any point and run again to finish. Rows are locked while
 * re-sealed (others skip them and are taken by the next pass), which is what makes it safe next
 * to running processes: a worker reads a row before or after its batch commits and holds both
 * secrets during a rotation; a disable's DELETE waits for the batch, then deletes the re-sealed
 * row; keys the API inserts meanwhile are sealed to whatever public key it runs with, and an API
 * still on the old key leaves work for another run (`keys status` shows it).
 */
export async function rotateInstanceKeys(
  pool: Pool,
  masterKey: MasterKey,
  { batchSize, onBatch }: RotationOptions,
): Promise<RotationProgress> {
  const progress = { resealed: 0, notHeld: new Map<string, number>() };
  for (;;) {
    progress.notHeld.clear();
    const before = progress.resealed;
    await rotationPass(pool, masterKey, batchSize, progress, onBatch);
    // A pass that re-sealed nothing saw every row it could: skipped (locked) rows get no end.
    if (progress.resealed === before) return progress;
  }
}

async function rotationPass(
  pool: Pool,
  masterKey: MasterKey,
  batchSize: number,
  progress: { resealed: number; notHeld: Map<string, number> },
  onBatch: RotationOptions['onBatch'],
): Promise<void> {
  let after = '';
  for (;;) {
    const seen = await inTransaction(pool, async (client) => {
      const { rows } = await client.query<{
        key_id: string;
        master_key_id: string;
        sealed_private_key: Buffer;
      }>(
        `SELECT key_id, master_key_id, sealed_private_key FROM instance_keys
         WHERE master_key_id <> $1 AND key_id > $2
         ORDER BY key_id LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [masterKey.id, after, batchSize],
      );
      const ids: string[] = [];
      const sealed: Buffer[] = [];
      for (const row of rows) {
        const secret = masterKeypairFor(masterKey, row.master_key_id);
        if (!secret) {
          progress.notHeld.set(
            row.master_key_id,
            (progress.notHeld.get(row.master_key_id) ?? 0) + 1,
          );
          continue;
        }
        const privateKey = openSealed(secret, new Uint8Array(row.sealed_private_key));
        ids.push(row.key_id);
        sealed.push(Buffer.from(sealTo(masterKey.publicKey, privateKey)));
        privateKey.fill(0);
      }
      if (ids.length > 0) {
        await client.query(
          `UPDATE instance_keys k SET sealed_private_key = v.sealed, master_key_id = $3
           FROM unnest($1::text[], $2::bytea[]) AS v(key_id, sealed)
           WHERE k.key_id = v.key_id`,
          [ids, sealed, masterKey.id],
        );
      }
      return { last: rows.at(-1)?.key_id, resealed: ids.length };
    });
    if (seen.last === undefined) return;
    after = seen.last;
    progress.resealed += seen.resealed;
    onBatch?.(progress);
  }
}
