import { randomUUID } from 'node:crypto';
import type { MasterKey } from '../../src/infra/master-keys.ts';
import type { Pool } from '../../src/infra/postgres/pool.ts';
import { generateKeypair, randomBytes, sealTo } from '../../src/infra/sealing.ts';
import { sealSecret } from '../../src/infra/secrets/secret-envelope.ts';
import { upsertRows } from '../../src/projections/s3-config-table.ts';
import type { S3ConfigRow } from '../../src/projections/s3-config-rows.ts';
import type { S3Settings } from '../../src/domain/s3-config.ts';

/**
 * Enabled instances written straight into the key table and the read model, as the command side
 * and the projection would leave them: a key pair of their own per instance (private half sealed
 * to the master key), the secret sealed to it in its envelope. The worker reads only these two
 * tables, so it pays exactly what it pays for an instance enabled through the API; going through
 * the command side (a durable append and a projection per instance) would take tens of minutes
 * for 50,000 instances on this machine.
 */
export async function seedEnabledInstances(
  pool: Pool,
  masterKey: MasterKey,
  instances: readonly string[],
  settingsOf: (instance: string) => S3Settings,
  secretAccessKey: string,
): Promise<void> {
  const chunk = 1_000;
  for (let from = 0; from < instances.length; from += chunk) {
    const keys = [];
    const rows: S3ConfigRow[] = [];
    for (const instance of instances.slice(from, from + chunk)) {
      const keypair = generateKeypair();
      const keyId = randomUUID();
      keys.push({
        keyId,
        instance,
        publicKey: Buffer.from(keypair.publicKey),
        sealedPrivateKey: Buffer.from(sealTo(masterKey.publicKey, keypair.secretKey)),
        macKey: Buffer.from(randomBytes(32)),
      });
      keypair.secretKey.fill(0);
      const context = { instance, revision: 0, keyId };
      rows.push({
        instance,
        enabled: true,
        settings: settingsOf(instance),
        secret: {
          keyId,
          ciphertext: sealSecret(secretAccessKey, context, keypair.publicKey),
          revision: 0,
        },
        revision: 0,
        updatedAt: new Date(),
        updatedBy: { tokenKind: 'account', tokenId: 'bench-seed' },
      });
    }
    await pool.query(
      `INSERT INTO instance_keys (key_id, instance_name, public_key, sealed_private_key, mac_key, master_key_id)
       SELECT key_id, instance_name, public_key, sealed_private_key, mac_key, $6
       FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[])
         AS k(key_id, instance_name, public_key, sealed_private_key, mac_key)`,
      [
        keys.map((key) => key.keyId),
        keys.map((key) => key.instance),
        keys.map((key) => key.publicKey),
        keys.map((key) => key.sealedPrivateKey),
        keys.map((key) => key.macKey),
        masterKey.id,
      ],
    );
    await upsertRows(pool, 'instance_s3_config', rows);
  }
}
