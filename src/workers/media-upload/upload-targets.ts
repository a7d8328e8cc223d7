import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import { BoundedMap } from '../../shared/bounded-map.ts';
import { ExpiringCache } from '../../shared/expiring-cache.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Pool } from '../../infra/postgres/pool.ts';
import { createS3Client, type S3Connection } from '../../infra/s3/s3-client.ts';
import {
  openStoredTarget,
  readS3ConfigRecord,
  StoredSecretUnusableError,
  type InstanceKeyOpener,
} from '../../infra/s3/stored-s3-config.ts';
import { s3ConfigChangedChannel } from '../../projections/s3-config-table.ts';
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
  /** Instances kept at once; each S3 client costs some 25 KiB of heap. */
  maxInstances?: number;
}

// A safety net: even an announcement lost without the listener noticing is outlived this long.
const configTtlMs = 60_000;

/**
 * The instances' configurations, read from the read model when a message needs one and kept in
 * memory until the projection announces a change to that instance. While the announcements cannot
 * be heard (the LISTEN connection is down), nothing is kept: every message reads the row, so a
 * disable or a fix is never missed. Clients are kept per instance and revision, so an unchanged
 * configuration read again does not open its secret again.
 */
export class UploadTargets {
  private readonly current: ExpiringCache<string, Promise<UploadTarget | undefined>>;
  private clients: BoundedMap<string, UploadTarget>;
  private readonly unavailableMasterKeys = new Set<string>();
  private readonly changes: ChannelListener;
  private readonly capacity: number;
  // Counts what was heard (changes, a lost connection): a load that overlapped one keeps nothing.
  private heard = 0;

  constructor(private readonly deps: UploadTargetsDeps) {
    this.capacity = deps.maxInstances ?? 1_000;
    this.current = new ExpiringCache(configTtlMs, this.capacity);
    this.clients = new BoundedMap(this.capacity);
    this.changes = new ChannelListener({
      connect: deps.connect,
      channel: s3ConfigChangedChannel,
      what: 'S3 config change',
      logger: deps.logger,
      // The client holds the opened secret: a disabled instance's must not outlive its key.
      onNotification: (instance) => {
        this.heard++;
        this.current.delete(instance);
        this.clients.delete(instance);
      },
      // Announcements sent while the connection was down are lost: forget everything.
      onLost: () => {
        this.heard++;
        this.current.clear();
        this.clients = new BoundedMap(this.capacity);
      },
    });
  }

  /** Resolves once changes are heard; until then (and whenever they are not) nothing is cached. */
  start(): Promise<void> {
    return this.changes.start();
  }

  /** Undefined when the instance's storage is not enabled. */
  find(instance: string): Promise<UploadTarget | undefined> {
    if (!this.changes.listening) return this.load(instance);
    const cached = this.current.get(instance);
    if (cached) return cached;
    const loading = this.load(instance);
    this.current.set(instance, loading);
    // A failed read is not remembered: the next message reads again.
    loading.catch(() => {
      if (this.current.get(instance) === loading) this.current.delete(instance);
    });
    return loading;
  }

  close(): Promise<void> {
    return this.changes.close();
  }

  private async load(instance: string): Promise<UploadTarget | undefined> {
    const heardBefore = this.heard;
    const row = await readS3ConfigRecord(this.deps.pool, instance);
    // A client holds an opened secret: none outlives its configuration, however that was learnt.
    if (!row?.enabled) {
      this.clients.delete(instance);
      return undefined;
    }
    const known = this.clients.get(instance);
    if (known?.revision === row.revision) return known;
    let stored;
    try {
      stored = await openStoredTarget(this.deps.keys, row);
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
    if (!stored) {
      this.clients.delete(instance);
      return undefined;
    }
    const target: UploadTarget = {
      instance,
      revision: stored.revision,
      bucket: stored.bucket,
      pathPrefix: stored.pathPrefix,
      ...(stored.publicBaseUrl === undefined ? {} : { publicBaseUrl: stored.publicBaseUrl }),
      client: createS3Client(stored.location, this.deps.connection),
    };
    if (this.heard === heardBefore) this.clients.set(instance, target);
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
