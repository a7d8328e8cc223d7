import type { Pool } from '../infra/postgres/pool.ts';
import type { UploadHistory } from './console-query.schema.ts';

/** The hours the console charts: the last day, oldest first, each with its counts (0 if none). */
export const chartedHours = 24;

/** The worker's recent outcomes of one instance, as GET …/uploads answers them. */
export class PostgresUploadHistoryViews {
  constructor(private readonly pool: Pool) {}

  async find(instance: string, now: Date = new Date()): Promise<UploadHistory> {
    const lastHour = new Date(now);
    lastHour.setUTCMinutes(0, 0, 0);
    const firstHour = new Date(lastHour.getTime() - (chartedHours - 1) * 3_600_000);
    const [hourly, recent] = await Promise.all([
      this.pool.query<{ hour: Date; completed: number; failed: number }>(
        `SELECT hour, completed, failed FROM instance_upload_hourly
         WHERE instance_name = $1 AND hour >= $2`,
        [instance, firstHour.toISOString()],
      ),
      this.pool.query<{ at: Date; outcome: 'completed' | 'failed'; detail: string }>(
        `SELECT at, outcome, detail FROM instance_recent_uploads
         WHERE instance_name = $1 ORDER BY at DESC, id DESC`,
        [instance],
      ),
    ]);
    const counted = new Map(hourly.rows.map((row) => [row.hour.getTime(), row]));
    return {
      hourly: Array.from({ length: chartedHours }, (_, index) => {
        const hour = firstHour.getTime() + index * 3_600_000;
        const row = counted.get(hour);
        return {
          hour: new Date(hour).toISOString(),
          completed: row?.completed ?? 0,
          failed: row?.failed ?? 0,
        };
      }),
      recent: recent.rows.map((row) =>
        row.outcome === 'completed'
          ? { at: row.at.toISOString(), outcome: row.outcome, key: row.detail }
          : { at: row.at.toISOString(), outcome: row.outcome, reason: row.detail },
      ),
    };
  }
}
