import { s3ConfigTables } from '../projections/s3-config-table.ts';
import type { Pool } from '../infra/postgres/pool.ts';
import type { S3ConfigView } from './s3-config-query.schema.ts';

interface ViewRow {
  enabled: boolean | null;
  region: string;
  bucket: string;
  access_key: string;
  endpoint: string;
  path_prefix: string;
  public_base_url: string;
  updated_at: Date | null;
  revision: string | null;
  last_upload_at: Date | null;
  last_upload_key: string | null;
  last_error_at: Date | null;
  last_error: string | null;
  has_status: boolean;
}

/**
 * The read model as GET /api/instance/s3/:instance answers it, with the worker's latest upload
 * outcomes beside it; never the secret columns. Undefined when there is neither.
 */
export class PostgresS3ConfigViews {
  constructor(private readonly pool: Pool) {}

  async find(instance: string): Promise<S3ConfigView | undefined> {
    const { rows } = await this.pool.query<ViewRow>(
      `SELECT c.enabled, coalesce(c.region, '') AS region, coalesce(c.bucket, '') AS bucket,
              coalesce(c.access_key, '') AS access_key, coalesce(c.endpoint, '') AS endpoint,
              coalesce(c.path_prefix, '') AS path_prefix,
              coalesce(c.public_base_url, '') AS public_base_url, c.updated_at, c.revision,
              u.last_upload_at, u.last_upload_key, u.last_error_at, u.last_error,
              u.instance_name IS NOT NULL AS has_status
       FROM (SELECT $1::text AS name) AS asked
       LEFT JOIN ${s3ConfigTables.live} c ON c.instance_name = asked.name
       LEFT JOIN instance_upload_status u ON u.instance_name = asked.name`,
      [instance],
    );
    const row = rows[0];
    if (!row || (row.enabled === null && !row.has_status)) return undefined;
    return {
      enabled: row.enabled ?? false,
      region: row.region,
      bucket: row.bucket,
      accessKey: row.access_key,
      endpoint: row.endpoint,
      pathPrefix: row.path_prefix,
      ...(row.public_base_url === '' ? {} : { publicBaseUrl: row.public_base_url }),
      updatedAt: row.updated_at?.toISOString() ?? null,
      revision: row.revision === null ? null : Number(row.revision),
      uploadStatus: row.has_status
        ? {
            lastUploadAt: row.last_upload_at?.toISOString() ?? null,
            lastUploadKey: row.last_upload_key,
            lastError:
              row.last_error_at && row.last_error !== null
                ? { at: row.last_error_at.toISOString(), reason: row.last_error }
                : null,
          }
        : null,
    };
  }
}
