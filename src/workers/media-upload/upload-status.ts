import type { Pool } from '../../infra/postgres/pool.ts';

/** The latest outcomes of one instance, as the worker records them. */
export interface UploadStatus {
  instance: string;
  lastUpload?: { at: Date; key: string };
  lastError?: { at: Date; reason: string };
}

/**
 * Writes several instances' statuses in one statement. Each half (upload, error) only moves
 * forward in time, since workers of several partitions or processes may report out of order.
 */
export async function writeUploadStatuses(
  pool: Pool,
  statuses: readonly UploadStatus[],
): Promise<void> {
  if (statuses.length === 0) return;
  await pool.query(
    `INSERT INTO instance_upload_status AS stored
       (instance_name, last_upload_at, last_upload_key, last_error_at, last_error)
     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::timestamptz[], $5::text[])
     ON CONFLICT (instance_name) DO UPDATE SET
       last_upload_key = CASE WHEN excluded.last_upload_at > stored.last_upload_at
                                OR stored.last_upload_at IS NULL
                              THEN coalesce(excluded.last_upload_key, stored.last_upload_key)
                              ELSE stored.last_upload_key END,
       last_upload_at = greatest(stored.last_upload_at, excluded.last_upload_at),
       last_error = CASE WHEN excluded.last_error_at > stored.last_error_at
                           OR stored.last_error_at IS NULL
                         THEN coalesce(excluded.last_error, stored.last_error)
                         ELSE stored.last_error END,
       last_error_at = greatest(stored.last_error_at, excluded.last_error_at),
       updated_at = now()`,
    [
      statuses.map((status) => status.instance),
      statuses.map((status) => status.lastUpload?.at.toISOString() ?? null),
      statuses.map((status) => status.lastUpload?.key ?? null),
      statuses.map((status) => status.lastError?.at.toISOString() ?? null),
      statuses.map((status) => status.lastError?.reason ?? null),
    ],
  );
}
