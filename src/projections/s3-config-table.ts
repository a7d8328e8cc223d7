import type { Actor } from '../domain/s3-config.ts';
import type { ProjectionTables, Queryable } from '../event-sourcing/projection/definition.ts';
import type { S3ConfigRecord } from './s3-config-fold.ts';

/** Told, after each commit, the name of every instance whose record changed: caches drop it. */
export const s3ConfigChangedChannel = 'stowage_s3_config_changed';

/** The live read model, and the table `stowage replay` rebuilds beside it before swapping. */
export const s3ConfigTables = {
  live: 'instance_s3_config',
  rebuild: 'instance_s3_config_rebuild',
  key: 'instance_name',
} as const satisfies ProjectionTables;

const columns =
  'instance_name, enabled, region, bucket, access_key, endpoint, path_prefix, secret_key_id, secret_ciphertext, secret_revision, revision, updated_at, updated_by, public_base_url';

interface StoredRow {
  instance_name: string;
  enabled: boolean;
  region: string;
  bucket: string;
  access_key: string;
  endpoint: string;
  path_prefix: string;
  secret_key_id: string | null;
  secret_ciphertext: string | null;
  secret_revision: string | null;
  revision: string;
  updated_at: Date;
  updated_by: Actor;
  /** Empty when not set. */
  public_base_url: string;
}

export async function loadRecords(
  db: Queryable,
  table: string,
  instances: readonly string[],
): Promise<Map<string, S3ConfigRecord>> {
  const { rows } = await db.query<StoredRow>(
    `SELECT ${columns} FROM ${table} WHERE instance_name = ANY($1::text[])`,
    [instances],
  );
  return new Map(rows.map((row) => [row.instance_name, fromStored(row)]));
}

/**
 * Writes all rows in one statement. A row whose stored revision is already as high is left alone:
 * whatever wrote it saw at least the same events.
 */
export async function upsertRecords(
  db: Queryable,
  table: string,
  rows: readonly S3ConfigRecord[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO ${table} AS stored (${columns})
     SELECT * FROM unnest($1::text[], $2::boolean[], $3::text[], $4::text[], $5::text[], $6::text[],
                          $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[],
                          $12::timestamptz[], $13::jsonb[], $14::text[])
     ON CONFLICT (instance_name) DO UPDATE SET
       enabled = excluded.enabled, region = excluded.region, bucket = excluded.bucket,
       access_key = excluded.access_key, endpoint = excluded.endpoint,
       path_prefix = excluded.path_prefix, secret_key_id = excluded.secret_key_id,
       secret_ciphertext = excluded.secret_ciphertext, secret_revision = excluded.secret_revision,
       revision = excluded.revision, updated_at = excluded.updated_at,
       updated_by = excluded.updated_by, public_base_url = excluded.public_base_url
     WHERE stored.revision < excluded.revision`,
    [
      rows.map((row) => row.instance),
      rows.map((row) => row.enabled),
      rows.map((row) => row.settings.region),
      rows.map((row) => row.settings.bucket),
      rows.map((row) => row.settings.accessKey),
      rows.map((row) => row.settings.endpoint),
      rows.map((row) => row.settings.pathPrefix),
      rows.map((row) => row.secret?.keyId ?? null),
      rows.map((row) => row.secret?.ciphertext ?? null),
      rows.map((row) => row.secret?.revision ?? null),
      rows.map((row) => row.revision),
      rows.map((row) => row.updatedAt.toISOString()),
      rows.map((row) => JSON.stringify(row.updatedBy)),
      rows.map((row) => row.settings.publicBaseUrl ?? ''),
    ],
  );
}

function fromStored(row: StoredRow): S3ConfigRecord {
  return {
    instance: row.instance_name,
    enabled: row.enabled,
    settings: {
      region: row.region,
      bucket: row.bucket,
      accessKey: row.access_key,
      endpoint: row.endpoint,
      pathPrefix: row.path_prefix,
      ...(row.public_base_url === '' ? {} : { publicBaseUrl: row.public_base_url }),
    },
    secret:
      row.secret_key_id !== null && row.secret_ciphertext !== null && row.secret_revision !== null
        ? {
            keyId: row.secret_key_id,
            ciphertext: row.secret_ciphertext,
            revision: Number(row.secret_revision),
          }
        : null,
    revision: Number(row.revision),
    updatedAt: row.updated_at,
    updatedBy: { tokenKind: row.updated_by.tokenKind, tokenId: row.updated_by.tokenId },
  };
}
