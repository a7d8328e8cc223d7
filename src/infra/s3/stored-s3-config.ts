import type { S3ConfigRecord } from '../../projections/s3-config-fold.ts';
import { loadRecords, s3ConfigTables } from '../../projections/s3-config-table.ts';
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

/** An instance's S3ConfigRecord with its secret opened: ready to connect. */
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

/** The instance's record in the read model; undefined when it was never configured. */
export async function readS3ConfigRecord(
  pool: Pool,
  instance: string,
): Promise<S3ConfigRecord | undefined> {
  return (await loadRecords(pool, s3ConfigTables.live, [instance])).get(instance);
}

/** Undefined when storage is not enabled, or its key material is gone (disabled since). */
export async function openStoredTarget(
  keys: InstanceKeyOpener,
  record: S3ConfigRecord | undefined,
): Promise<StoredS3Target | undefined> {
  if (!record?.enabled || !record.secret) return undefined;
  const { keyId, ciphertext, revision } = record.secret;
  const keypair = await keys.openKeypair(keyId);
  if (!keypair) return undefined;
  let secretAccessKey: string;
  try {
    secretAccessKey = openSecret(
      ciphertext,
      { instance: record.instance, revision, keyId },
      keypair,
    );
  } catch (error) {
    if (error instanceof SecretContextMismatchError || isUnopenable(error)) {
      throw new StoredSecretUnusableError();
    }
    throw error;
  } finally {
    keypair.privateKey.fill(0);
  }
  return {
    revision: record.revision,
    bucket: record.settings.bucket,
    pathPrefix: record.settings.pathPrefix,
    ...(record.settings.publicBaseUrl === undefined
      ? {}
      : { publicBaseUrl: record.settings.publicBaseUrl }),
    location: {
      region: record.settings.region,
      endpoint: record.settings.endpoint,
      accessKeyId: record.settings.accessKey,
      secretAccessKey,
    },
  };
}

/** The stored target of any instance, for callers that need it whole. */
export function storedS3Targets(pool: Pool, keys: InstanceKeyOpener) {
  return async (instance: string) =>
    openStoredTarget(keys, await readS3ConfigRecord(pool, instance));
}

// libsodium throws a plain Error when a box does not open under the key.
function isUnopenable(error: unknown): boolean {
  return error instanceof Error && /incorrect key pair|decrypt/i.test(error.message);
}
