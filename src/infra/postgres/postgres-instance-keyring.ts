import { randomUUID } from 'node:crypto';
import type { InstanceKey, InstanceKeyring } from '../../commands/instance-keyring.ts';
import type { MasterKey } from '../master-keys.ts';
import { generateKeypair, openSealed, randomBytes, sealTo, type Keypair } from '../sealing.ts';
import type { Pool } from './pool.ts';

// Keys are immutable until destroyed, and a destroyed key is never looked up again (the
// instance's state no longer names it), so caching found keys by id is safe.
const cacheLimit = 10_000;

export class PostgresInstanceKeyring implements InstanceKeyring {
  private readonly cache = new Map<string, InstanceKey>();

  constructor(
    private readonly pool: Pool,
    private readonly masterKey: MasterKey,
  ) {}

  async create(instance: string): Promise<InstanceKey> {
    const keypair = generateKeypair();
    const key: InstanceKey = {
      id: randomUUID(),
      publicKey: keypair.publicKey,
      macKey: randomBytes(32),
    };
    await this.pool.query(
      `INSERT INTO instance_keys (key_id, instance_name, public_key, sealed_private_key, mac_key, master_key_id)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        key.id,
        instance,
        Buffer.from(key.publicKey),
        Buffer.from(sealTo(this.masterKey.publicKey, keypair.secretKey)),
        Buffer.from(key.macKey),
        this.masterKey.id,
      ],
    );
    keypair.secretKey.fill(0);
    this.remember(key);
    return key;
  }

  async find(keyId: string): Promise<InstanceKey | undefined> {
    const cached = this.cache.get(keyId);
    if (cached) return cached;
    const { rows } = await this.pool.query<{ public_key: Buffer; mac_key: Buffer }>(
      'SELECT public_key, mac_key FROM instance_keys WHERE key_id = $1 AND destroyed_at IS NULL',
      [keyId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const key = {
      id: keyId,
      publicKey: new Uint8Array(row.public_key),
      macKey: new Uint8Array(row.mac_key),
    };
    this.remember(key);
    return key;
  }

  async destroy(keyId: string): Promise<void> {
    this.cache.delete(keyId);
    await this.pool.query(
      `UPDATE instance_keys SET sealed_private_key = NULL, mac_key = NULL, destroyed_at = now()
       WHERE key_id = $1 AND destroyed_at IS NULL`,
      [keyId],
    );
  }

  async discard(keyId: string): Promise<void> {
    this.cache.delete(keyId);
    await this.pool.query('DELETE FROM instance_keys WHERE key_id = $1', [keyId]);
  }

  /**
   * The private half, for the worker that opens secrets; undefined once destroyed. Needs the
   * master key's secret half.
   */
  async openKeypair(keyId: string): Promise<Keypair | undefined> {
    const master = this.masterKey.keypair;
    if (!master) throw new Error('opening instance keys needs STOWAGE_SEAL_SECRET_KEY');
    const { rows } = await this.pool.query<{ public_key: Buffer; sealed_private_key: Buffer }>(
      `SELECT public_key, sealed_private_key FROM instance_keys
       WHERE key_id = $1 AND destroyed_at IS NULL`,
      [keyId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      publicKey: new Uint8Array(row.public_key),
      secretKey: openSealed(master, new Uint8Array(row.sealed_private_key)),
    };
  }

  private remember(key: InstanceKey): void {
    if (this.cache.size >= cacheLimit) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key.id, key);
  }
}
