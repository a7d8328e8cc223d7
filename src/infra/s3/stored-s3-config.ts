import { liveProjection } from '../../projections/project-batch.ts';
import type { S3ConfigRow } from '../../projections/s3-config-rows.ts';
import { loadRows } from '../../projections/s3-config-table.ts';
import type { Pool } from '../postgres/pool.ts';
import type { Keypair } from '../sealing.ts';
import { openSecret, SecretContextMismatchError } from '../secrets/secret-envelope.ts';
import type { S3Location } from './s3-client.ts';
import { StowageError } from '../../shared/errors.ts';

/** Opens an enablement's private key: only the worker side, which holds the master secret. */
export interface InstanceKeyOpener {
  /** Undefined once the key material was destroyed (the instance was disabled). */
  openKeypair(keyId: string): Promise<Keypair | undefined>;
}

/** An instance's bucket as configured, with the secret opened: ready to connect. */
export interface StoredS3Target {
  revision: number;
  bucket: string;
  pathPrefix: string;
  publicBaseUrl?: string;
  location: S3Location;
}

/** The stored secret cannot be opened with the key it names: the configuration is unusable. */
export class StoredSecretUnusableError extends StowageError {
  constructor() {
    super('stored-secret-unusable', 'the stored secret key cannot be opened');
  }
}

/** The instance's row of the read model; undefined when it was never configured. */
export async function readS3ConfigRow(
  pool: Pool,
  instance: string,
): Promise<S3ConfigRow | undefined> {
  return (await loadRows(pool, liveProjection.table, [instance])).get(instance);
}

/** Undefined when storage is not enabled, or its key material is gone (disabled since). */
export async function openStoredTarget(
  keys: InstanceKeyOpener,
  row: S3ConfigRow | undefined,
): Promise<StoredS3Target | undefined> {
  if (!row?.enabled || !row.secret) return undefined;
  const { keyId, ciphertext, revision } = row.secret;
  const keypair = await keys.openKeypair(keyId);
  if (!keypair) return undefined;
  let secretAccessKey: string;
  try {
    secretAccessKey = openSecret(ciphertext, { instance: row.instance, revision, keyId }, keypair);
  } catch (error) {
    if (error instanceof SecretContextMismatchError || isUnopenable(error)) {
      throw new StoredSecretUnusableError();
    }
    throw error;
  } finally {
    keypair.privateKey.fill(0);
  }
  return {
    revision: row.revision,
    bucket: row.settings.bucket,
    pathPrefix: row.settings.pathPrefix,
    ...(row.settings.publicBaseUrl === undefined
      ? {}
      : { publicBaseUrl: row.settings.publicBaseUrl }),
    location: {
      region: row.settings.region,
      endpoint: row.settings.endpoint,
      accessKeyId: row.settings.accessKey,
      secretAccessKey,
    },
  };
}

/** The stored target of any instance, for callers that need it whole. */
export function storedS3Targets(pool: Pool, keys: InstanceKeyOpener) {
  return async (instance: string) => openStoredTarget(keys, await readS3ConfigRow(pool, instance));
}

// libsodium throws a plain Error when a box does not open under the key.
function isUnopenable(error: unknown): boolean {
  return error instanceof Error && /incorrect key pair|decrypt/i.test(error.message);
}
