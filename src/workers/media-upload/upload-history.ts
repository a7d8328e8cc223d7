import type { Logger } from '../../infra/logger.ts';
import { inTransaction, type Pool } from '../../infra/postgres/pool.ts';
import type { UploadStatus } from './upload-status.ts';

/** One published outcome, as the console lists it. */
export interface RecentUpload {
  instance: string;
  at: Date;
  outcome: 'completed' | 'failed';
  /** The object key of a completed upload, the reason of a failed one. */
  detail: string;
}

/** The one outcome a status from a single published outcome records. */
export function recentUploadOf(status: UploadStatus): RecentUpload {
  const { instance, lastUpload, lastError } = status;
  if (lastUpload)
    return { instance, at: lastUpload.at, outcome: 'completed', detail: lastUpload.key };
  if (lastError) return { instance, at: lastError.at, outcome: 'failed', detail: lastError.reason };
  throw new Error('an upload status without an outcome');
}

/** How much of an instance's upload history is kept: enough for a day's chart and a short list. */
export const uploadHistoryBounds = { hours: 7 * 24, recent: 20 };

interface Pending {
  counts: Map<string, { instance: string; hour: Date; completed: number; failed: number }>;
  recent: RecentUpload[];
}

/**
 * Records outcomes for the console off the upload path, like the StatusRecorder: counted per
 * instance and hour in memory, written in one transaction while the next ones arrive. A failed
 * write keeps its counts for the next one; only the newest outcomes per instance are kept.
 */
export class UploadHistoryRecorder {
  private pending: Pending = { counts: new Map(), recent: [] };
  private writing: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly logger: Logger,
  ) {}

  record(upload: RecentUpload): void {
    add(this.pending, upload);
    this.writing ??= this.writePending().finally(() => (this.writing = undefined));
  }

  async close(): Promise<void> {
    await this.writing;
    if (this.pending.recent.length > 0) await this.writePending();
  }

  private async writePending(): Promise<void> {
    while (this.pending.recent.length > 0) {
      const batch = this.pending;
      this.pending = { counts: new Map(), recent: [] };
      try {
        await writeUploadHistory(this.pool, batch);
      } catch (error) {
        for (const count of batch.counts.values()) mergeCount(this.pending, count);
        this.pending.recent = newest([...batch.recent, ...this.pending.recent]);
        this.logger.warn({ err: error }, 'could not record upload history');
        return;
      }
    }
  }
}

function add(pending: Pending, upload: RecentUpload): void {
  const hour = new Date(upload.at);
  hour.setUTCMinutes(0, 0, 0);
  const completed = upload.outcome === 'completed' ? 1 : 0;
  mergeCount(pending, { instance: upload.instance, hour, completed, failed: 1 - completed });
  pending.recent = newest([...pending.recent, upload]);
}

function mergeCount(
  pending: Pending,
  count: { instance: string; hour: Date; completed: number; failed: number },
): void {
  const key = `${count.instance} ${count.hour.toISOString()}`;
  const known = pending.counts.get(key);
  pending.counts.set(key, {
    ...count,
    completed: count.completed + (known?.completed ?? 0),
    failed: count.failed + (known?.failed ?? 0),
  });
}

/** The last `recent` outcomes of each instance, oldest first. */
function newest(uploads: RecentUpload[]): RecentUpload[] {
  const perInstance = new Map<string, number>();
  const kept: RecentUpload[] = [];
  for (const upload of [...uploads].sort((a, b) => b.at.getTime() - a.at.getTime())) {
    const seen = perInstance.get(upload.instance) ?? 0;
    if (seen >= uploadHistoryBounds.recent) continue;
    perInstance.set(upload.instance, seen + 1);
    kept.push(upload);
  }
  return kept.reverse();
}

async function writeUploadHistory(pool: Pool, batch: Pending): Promise<void> {
  const counts = [...batch.counts.values()];
  const instances = [...new Set(counts.map((count) => count.instance))];
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO instance_upload_hourly AS stored (instance_name, hour, completed, failed)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[])
       ON CONFLICT (instance_name, hour) DO UPDATE SET
         completed = stored.completed + excluded.completed,
         failed = stored.failed + excluded.failed`,
      [
        counts.map((count) => count.instance),
        counts.map((count) => count.hour.toISOString()),
        counts.map((count) => count.completed),
        counts.map((count) => count.failed),
      ],
    );
    await client.query(
      `INSERT INTO instance_recent_uploads (instance_name, at, outcome, detail)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[])`,
      [
        batch.recent.map((upload) => upload.instance),
        batch.recent.map((upload) => upload.at.toISOString()),
        batch.recent.map((upload) => upload.outcome),
        batch.recent.map((upload) => upload.detail),
      ],
    );
    // The bounds, for the instances just written: older hours and all but the newest outcomes.
    await client.query(
      `DELETE FROM instance_upload_hourly
       WHERE instance_name = ANY($1) AND hour < now() - make_interval(hours => $2)`,
      [instances, uploadHistoryBounds.hours],
    );
    await client.query(
      `DELETE FROM instance_recent_uploads r USING (
         SELECT id, row_number() OVER (PARTITION BY instance_name ORDER BY at DESC, id DESC) AS n
         FROM instance_recent_uploads WHERE instance_name = ANY($1)) ranked
       WHERE r.id = ranked.id AND ranked.n > $2`,
      [instances, uploadHistoryBounds.recent],
    );
  });
}
