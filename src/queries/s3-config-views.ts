import { liveProjection } from '../projections/project-batch.ts';
import type { Pool } from '../infra/postgres/pool.ts';
import type { S3ConfigView } from './s3-config-query.schema.ts';

/** The read model as GET /api/instance/s3/:instance answers it; never the secret columns. */
export class PostgresS3ConfigViews {
  constructor(private readonly pool: Pool) {}

  async find(instance: string): Promise<S3ConfigView | undefined> {
    const { rows } = await this.pool.query<{
      enabled: boolean;
      region: string;
      bucket: string;
      access_key: string;
      endpoint: string;
      path_prefix: string;
      updated_at: Date;
      revision: string;
    }>(
      `SELECT enabled, region, bucket, access_key, endpoint, path_prefix, updated_at, revision
       FROM ${liveProjection.table} WHERE instance_name = $1`,
      [instance],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      enabled: row.enabled,
      region: row.region,
      bucket: row.bucket,
      accessKey: row.access_key,
      endpoint: row.endpoint,
      pathPrefix: row.path_prefix,
      updatedAt: row.updated_at.toISOString(),
      revision: Number(row.revision),
    };
  }
}
