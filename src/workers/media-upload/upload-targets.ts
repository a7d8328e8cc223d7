import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { BoundedMap } from '../../shared/bounded-map.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Pool } from '../../infra/postgres/pool.ts';
import { createS3Client, type S3Connection } from '../../infra/s3/s3-client.ts';
import {
  openStoredTarget,
  StoredSecretUnusableError,
  type InstanceKeyOpener,
  type StoredS3Target,
} from '../../infra/s3/stored-s3-config.ts';
import type { S3ConfigRecord } from '../../projections/s3-config-fold.ts';
import {
  loadRecords,
  s3ConfigChangedChannel,
  s3ConfigTables,
} from '../../projections/s3-config-table.ts';
import { ChannelListener } from '../../infra/postgres/channel-listener.ts';
import { MasterKeyUnavailableError } from '../../infra/postgres/postgres-instance-keyring.ts';
import { UploadFailedError } from './upload-failure.ts';

/** Where one instance's media go, as configured now. */
export interface UploadTarget {
  instance: string;
  revision: number;
  bucket: string;
  pathPrefix: string;
  /** Completed uploads link here for good when set. */
  publicBaseUrl?: string;
  client: S3Client;
}

export interface UploadTargetsDeps {
  pool: Pool;
  /** A dedicated connection for LISTEN, which a pooled one cannot hold. */
  connect: () => Promise<pg.Client>;
  keys: InstanceKeyOpener;
  connection: S3Connection;
  logger: Logger;
  /** Instances whose opened configuration is kept: a few hundred bytes each. */
  maxInstances?: number;
  /** S3 clients kept at once: some 25 KiB of heap each, so far fewer than configurations. */
  maxClients?: number;
  now?: () => number;
}

// A safety net: even an announcement lost without the listener noticing is outlived this long.
const configTtlMs = 60_000;

/** A configuration as last read: its row is read again once it is older than configTtlMs. */
interface Known {
  config: Promise<StoredS3Target | undefined>;
  readAt: number;
  /** The number of the read it came from (see `readBatch`). */
  read: number;
}

/**
 * The instances' configurations, read from the read model when a message needs one and kept in
 * memory until the projection announces a change to that instance. While the announcements cannot
 * be heard (the LISTEN connection is down), nothing is kept: every message reads the row, so a
 * disable or a fix is never missed.
 *
 * Opened configurations (the secret opened, no client) are kept for many instances, clients for
 * the most recently used few: an instance past the clients' bound costs a new client, not a read
 * and two opens. A row read again unchanged (same revision) is not opened again.
 *
 * An announcement reaches this process some time after the change it announces, so a kept
 * configuration may be out of date for a moment: `readBatch` closes that window for a fetched
 * batch of messages by reading their instances' rows, all in one query, after the batch arrived.
 */
export class UploadTargets {
  private known: BoundedMap<string, Known>;
  private clients: BoundedMap<string, UploadTarget>;
  private readonly unavailableMasterKeys = new Set<string>();
  private readonly changes: ChannelListener;
  private readonly maxInstances: number;
  private readonly maxClients: number;
  private readonly now: () => number;
  // Counts what was heard (changes, a lost connection): a load that overlapped one keeps nothing.
  private heard = 0;
  // Numbers the reads of the read model, so that a batch can ask for nothing read before its own.
  private readsIssued = 0;

  constructor(private readonly deps: UploadTargetsDeps) {
    this.maxInstances = deps.maxInstances ?? 50_000;
    this.maxClients = deps.maxClients ?? 1_000;
    this.now = deps.now ?? Date.now;
    this.known = new BoundedMap(this.maxInstances);
    this.clients = new BoundedMap(this.maxClients);
    this.changes = new ChannelListener({
      connect: deps.connect,
      channel: s3ConfigChangedChannel,
      what: 'S3 config change',
      logger: deps.logger,
      // Both hold the opened secret: a disabled instance's must not outlive its key.
      onNotification: (instance) => {
        this.heard++;
        this.known.delete(instance);
        this.clients.delete(instance);
      },
      // Announcements sent while the connection was down are lost: forget everything.
      onLost: () => {
        this.heard++;
        this.known = new BoundedMap(this.maxInstances);
        this.clients = new BoundedMap(this.maxClients);
      },
    });
  }

  /** Resolves once changes are heard; until then (and whenever they are not) nothing is cached. */
  start(): Promise<void> {
    return this.changes.start();
  }

  /**
   * Undefined when the instance's storage is not enabled. With `readFrom` (from `readBatch`), a
   * configuration kept from an earlier read is read again.
   */
  find(instance: string, readFrom = 0): Promise<UploadTarget | undefined> {
    if (!this.changes.listening) {
      return this.targetOf(instance, this.open(instance, this.readRecords([instance])));
    }
    const known = this.known.get(instance);
    const config =
      known && known.read >= readFrom && this.now() - known.readAt < configTtlMs
        ? known.config
        : this.remember(instance, known, this.readRecords([instance]));
    return this.targetOf(instance, config);
  }

  /**
   * Reads the rows of `instances` in one query, and returns the number to pass to `find` for the
   * messages of a batch fetched before this call: they then use nothing read before it. A message
   * whose instance is not among `instances` reads its own row. A failed read is forgotten: finding
   * one of its instances reads its row again.
   */
  readBatch(instances: Iterable<string>): number {
    const readFrom = this.readsIssued + 1;
    // Not listening, nothing is kept: each find reads its row anyway.
    if (!this.changes.listening) return readFrom;
    const wanted = [...new Set(instances)];
    if (wanted.length === 0) return readFrom;
    const rows = this.readRecords(wanted);
    for (const instance of wanted) {
      const config = this.remember(instance, this.known.get(instance), rows);
      // eslint-disable-next-line no-restricted-syntax -- nobody may ever ask: a failure here is seen (and reported) by the next find, if any
      config.catch(() => {});
    }
    return readFrom;
  }

  close(): Promise<void> {
    return this.changes.close();
  }

  private readRecords(instances: readonly string[]): Promise<Map<string, S3ConfigRecord>> {
    this.readsIssued++;
    return loadRecords(this.deps.pool, s3ConfigTables.live, instances);
  }

  private remember(
    instance: string,
    previous: Known | undefined,
    rows: Promise<Map<string, S3ConfigRecord>>,
  ): Promise<StoredS3Target | undefined> {
    const heardBefore = this.heard;
    const config = this.open(instance, rows, previous?.config);
    const known = { config, readAt: this.now(), read: this.readsIssued };
    this.known.set(instance, known);
    config.then(
      () => {
        // A change heard while this was read may not be in what was read.
        if (this.heard !== heardBefore && this.known.get(instance) === known) {
          this.known.delete(instance);
        }
      },
      () => {
        if (this.known.get(instance) === known) this.known.delete(instance);
      },
    );
    return config;
  }

  private async open(
    instance: string,
    rows: Promise<Map<string, S3ConfigRecord>>,
    previous?: Promise<StoredS3Target | undefined>,
  ): Promise<StoredS3Target | undefined> {
    const row = (await rows).get(instance);
    if (!row?.enabled) return undefined;
    const before = await previous?.catch(() => undefined);
    if (before?.revision === row.revision) return before;
    try {
      return await openStoredTarget(this.deps.keys, row);
    } catch (error) {
      if (error instanceof StoredSecretUnusableError) {
        throw new UploadFailedError('storage-misconfigured', error.message, false);
      }
      if (error instanceof MasterKeyUnavailableError) {
        this.reportUnavailable(error.masterKeyId);
        throw new UploadFailedError('master-key-unavailable', error.message, false);
      }
      throw error;
    }
  }

  /** The instance's client for this configuration: kept, or made (and kept) now. */
  private async targetOf(
    instance: string,
    config: Promise<StoredS3Target | undefined>,
  ): Promise<UploadTarget | undefined> {
    const heardBefore = this.heard;
    const stored = await config;
    // A client holds an opened secret: none outlives its configuration, however that was learnt.
    if (!stored) {
      this.clients.delete(instance);
      return undefined;
    }
    const known = this.clients.get(instance);
    if (known?.revision === stored.revision) return known;
    const target: UploadTarget = {
      instance,
      revision: stored.revision,
      bucket: stored.bucket,
      pathPrefix: stored.pathPrefix,
      ...(stored.publicBaseUrl === undefined ? {} : { publicBaseUrl: stored.publicBaseUrl }),
      client: createS3Client(stored.location, this.deps.connection),
    };
    if (this.heard === heardBefore && this.changes.listening) this.clients.set(instance, target);
    return target;
  }

  private reportUnavailable(masterKeyId: string): void {
    if (this.unavailableMasterKeys.has(masterKeyId)) return;
    this.unavailableMasterKeys.add(masterKeyId);
    this.deps.logger.error(
      { masterKeyId },
      'an instance key is sealed to a master key this worker does not hold: add its secret (STOWAGE_SEAL_RETIRED_SECRET_KEYS) or rotate',
    );
  }
}
