import { randomUUID } from 'node:crypto';
import type { MasterKey } from '../../src/infra/master-keys.ts';
import type { Pool } from '../../src/infra/postgres/pool.ts';
import { generateKeypair, randomBytes, sealTo } from '../../src/infra/sealing.ts';
import { sealSecret } from '../../src/infra/secrets/secret-envelope.ts';
import type { S3ConfigRecord } from '../../src/projections/s3-config-fold.ts';
import { s3ConfigTables, upsertRecords } from '../../src/projections/s3-config-table.ts';
import type { S3Settings } from '../../src/domain/s3-config.ts';

/**
 * Enabled instances written straight into the key table and the read model, as the command side
 * and the projection would leave them: an instance key (private half sealed to the master key)
 * and each instance's secret sealed to it in its envelope (instance, revision, key id). The worker
 * reads only these two tables and pays per instance exactly what it pays for one enabled through
 * the API (a row read, a key read, two opens; it keeps no opened keys). Going through the command
 * side (a durable append and a projection per instance) would take tens of minutes for 50,000
 * instances on this machine, so would a key pair per instance (three sealings each): the instances
 * share one key, which changes nothing the worker does.
 */
export async function seedEnabledInstances(
  pool: Pool,
  masterKey: MasterKey,
  instances: readonly string[],
  settingsOf: (instance: string) => S3Settings,
  secretAccessKey: string,
): Promise<void> {
  const keypair = generateKeypair();
  const keyId = randomUUID();
  await pool.query(
    `INSERT INTO instance_keys (key_id, instance_name, public_key, sealed_private_key, mac_key, master_key_id)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      keyId,
      instances[0] ?? 'none',
      Buffer.from(keypair.publicKey),
      Buffer.from(sealTo(masterKey.publicKey, keypair.privateKey)),
      Buffer.from(randomBytes(32)),
      masterKey.id,
    ],
  );
  keypair.privateKey.fill(0);
  const chunk = 1_000;
  for (let from = 0; from < instances.length; from += chunk) {
    const rows = instances.slice(from, from + chunk).map((instance): S3ConfigRecord => ({
      instance,
      enabled: true,
      settings: settingsOf(instance),
      secret: {
        keyId,
        ciphertext: sealSecret(
          secretAccessKey,
          { instance, revision: 0, keyId },
          keypair.publicKey,
        ),
        revision: 0,
      },
      revision: 0,
      updatedAt: new Date(),
      updatedBy: { tokenKind: 'account', tokenId: 'bench-seed' },
    }));
    await upsertRecords(pool, s3ConfigTables.live, rows);
  }
}
