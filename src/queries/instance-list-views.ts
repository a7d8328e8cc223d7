import type { Principal } from '../http/auth.ts';
import type { Pool } from '../infra/postgres/pool.ts';
import { s3ConfigTables } from '../projections/s3-config-table.ts';
import type { InstanceSummary } from './console-query.schema.ts';

interface SummaryRow {
  name: string;
  enabled: boolean | null;
  bucket: string | null;
  last_upload_at: Date | null;
  last_error_at: Date | null;
  last_error: string | null;
}

/**
 * The instances a token may see, by name: an account token's whole account, an instance token's
 * one instance. With each, its storage summary and the worker's latest outcome.
 */
export class PostgresInstanceListViews {
  constructor(private readonly pool: Pool) {}

  async page(
    principal: Principal,
    { after, limit }: { after?: string | undefined; limit: number },
  ): Promise<{ instances: InstanceSummary[]; nextAfter: string | null }> {
    const { rows } = await this.pool.query<SummaryRow>(
      `SELECT i.name, c.enabled, c.bucket, u.last_upload_at, u.last_error_at, u.last_error
       FROM instances i
       LEFT JOIN ${s3ConfigTables.live} c ON c.instance_name = i.name
       LEFT JOIN instance_upload_status u ON u.instance_name = i.name
       WHERE i.account_id = $1 AND ($2::text IS NULL OR i.name = $2)
         AND ($3::text IS NULL OR i.name COLLATE "C" > $3)
       ORDER BY i.name COLLATE "C"
       LIMIT $4`,
      [principal.accountId, principal.instance ?? null, after ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      instances: page.map(summaryOf),
      nextAfter: rows.length > limit ? page[page.length - 1]!.name : null,
    };
  }
}

function summaryOf(row: SummaryRow): InstanceSummary {
  return {
    name: row.name,
    enabled: row.enabled ?? false,
    bucket: row.bucket ?? '',
    latestUpload: latestOf(row),
  };
}

/** Whichever of the last completed upload and the last failure happened later. */
function latestOf(row: SummaryRow): InstanceSummary['latestUpload'] {
  const completed = row.last_upload_at;
  const failed = row.last_error_at && row.last_error !== null ? row.last_error_at : null;
  if (failed && (!completed || failed > completed)) {
    return { outcome: 'failed', at: failed.toISOString(), reason: row.last_error! };
  }
  return completed ? { outcome: 'completed', at: completed.toISOString() } : null;
}
