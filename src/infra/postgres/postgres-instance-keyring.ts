import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { InstanceKey, InstanceKeyring } from '../../commands/instance-keyring.ts';
import { ExpiringCache } from '../../shared/expiring-cache.ts';
import type { Logger } from '../logger.ts';
import { masterKeypairFor, type MasterKey } from '../master-keys.ts';
import { generateKeypair, openSealed, randomBytes, sealTo, type Keypair } from '../sealing.ts';
import { BatchedLookup } from './batched-lookup.ts';
import { ChannelListener } from './channel-listener.ts';
import type { Pool } from './pool.ts';
import { StowageError } from '../../shared/errors.ts';

/** Told the id of every deleted instance key: processes that cache key material drop it. */
export const instanceKeyDeletedChannel = 'stowage_instance_key_deleted';

/**
 * Destroys an instance key (crypto-shredding: what was sealed to it can no longer be opened) and
 * announces it. Needs no master key: a replay shreds without holding one.
 */
export async function shredInstanceKey(pool: Pool, keyId: string): Promise<void> {
  await pool.query(
    `WITH deleted AS (DELETE FROM instance_keys WHERE key_id = $1 RETURNING key_id)
     SELECT pg_notify($2, key_id) FROM deleted`,
    [keyId, instanceKeyDeletedChannel],
  );
}

const cacheLimit = 10_000;
// A safety net for a deletion whose announcement was missed without the listener noticing.
const cacheTtlMs = 5 * 60_000;

/** An instance key sealed to a master key whose private half this process does not hold. */
export class MasterKeyUnavailableError extends StowageError {
  constructor(readonly masterKeyId: string) {
    super(
      'master-key-unavailable',
      `instance key is sealed to master key ${masterKeyId}, which this process does not hold`,
    );
  }
}

/**
 * Instance keys in Postgres, each sealed to a master key named by its row. Destroying a key
 * deletes its row and announces it. Found keys (public half and MAC key) are cached: a deleted
 * key is never needed again (the instance's state no longer names it, and a stale state's append
 * is refused), but a process that listen()s drops it when any process deletes it, so no copy of
 * destroyed material lingers.
 */
export class PostgresInstanceKeyring implements InstanceKeyring {
  private readonly cache = new ExpiringCache<string, InstanceKey>(cacheTtlMs, cacheLimit);
  private deletions: ChannelListener | undefined;
  private readonly missingMasterKeys = new Set<string>();
  // Counts deletions heard, so a lookup that raced one does not cache what it read before it.
  private deletionsHeard = 0;
  // Keys of instances met for the first time, looked up many per statement.
  private readonly keyRows: BatchedLookup<{
    key_id: string;
    public_key: Buffer;
    mac_key: Buffer;
  }>;

  constructor(
    private readonly pool: Pool,
    private readonly masterKey: MasterKey,
  ) {
    this.keyRows = new BatchedLookup(pool, {
      name: 'stowage-find-instance-keys',
      text: 'SELECT key_id, public_key, mac_key FROM instance_keys WHERE key_id = ANY($1::text[])',
      keyOf: (row) => row.key_id,
    });
  }

  /** Starts hearing deletions from every process. */
  async listen(connect: () => Promise<pg.Client>, logger: Logger): Promise<void> {
    this.deletions = new ChannelListener({
      connect,
      channel: instanceKeyDeletedChannel,
      what: 'instance key deletion',
      logger,
      onNotification: (keyId) => this.forget(keyId),
      onLost: () => this.forgetAll(),
    });
    await this.deletions.start();
  }

  async close(): Promise<void> {
    await this.deletions?.close();
  }

  /** Master key ids met on instance keys that this process cannot open. */
  get unavailableMasterKeys(): ReadonlySet<string> {
    return this.missingMasterKeys;
  }

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
        Buffer.from(sealTo(this.masterKey.publicKey, keypair.privateKey)),
        Buffer.from(key.macKey),
        this.masterKey.id,
      ],
    );
    keypair.privateKey.fill(0);
    this.remember(key);
    return key;
  }

  async find(keyId: string): Promise<InstanceKey | undefined> {
    const cached = this.cache.get(keyId);
    if (cached) return cached;
    const deletionsBefore = this.deletionsHeard;
    const row = await this.keyRows.find(keyId);
    if (!row) return undefined;
    const key = {
      id: keyId,
      publicKey: new Uint8Array(row.public_key),
      macKey: new Uint8Array(row.mac_key),
    };
    // A deletion heard while the row was read may be this key's: the copy is not kept then.
    if (this.deletionsHeard === deletionsBefore) this.remember(key);
    return key;
  }

  /** Deletes the row (crypto-shredding) and tells every process; idempotent. */
  async shred(keyId: string): Promise<void> {
    this.cache.delete(keyId);
    await shredInstanceKey(this.pool, keyId);
  }

  discard(keyId: string): Promise<void> {
    return this.shred(keyId);
  }

  /**
   * The private half, for the worker that opens secrets; undefined once destroyed. Throws
   * MasterKeyUnavailableError when the row is sealed to a master key this process does not hold.
   */
  async openKeypair(keyId: string): Promise<Keypair | undefined> {
    const { rows } = await this.pool.query<{
      public_key: Buffer;
      sealed_private_key: Buffer;
      master_key_id: string;
    }>(
      'SELECT public_key, sealed_private_key, master_key_id FROM instance_keys WHERE key_id = $1',
      [keyId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const master = masterKeypairFor(this.masterKey, row.master_key_id);
    if (!master) {
      this.missingMasterKeys.add(row.master_key_id);
      throw new MasterKeyUnavailableError(row.master_key_id);
    }
    return {
      publicKey: new Uint8Array(row.public_key),
      privateKey: openSealed(master, new Uint8Array(row.sealed_private_key)),
    };
  }

  private remember(key: InstanceKey): void {
    this.cache.set(key.id, key);
  }

  private forget(keyId: string): void {
    this.deletionsHeard++;
    this.cache.delete(keyId);
  }

  private forgetAll(): void {
    this.deletionsHeard++;
    this.cache.clear();
  }
}
