import type { Pool } from './pool.ts';

/**
 * The sessions whose transactions began first among those still open anywhere in the cluster, as
 * an operator would look for them: the PostgreSQL event store hands over no event committed
 * after the oldest of them began until it ends, whichever database it is in.
 */
export async function oldestOpenTransactions(pool: Pool, limit: number): Promise<string[]> {
  const { rows } = await pool.query<{
    pid: number;
    datname: string | null;
    usename: string | null;
    state: string | null;
    xact_start: Date;
  }>(
    `SELECT pid, datname, usename, state, xact_start FROM pg_stat_activity
     WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()
       AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)
     ORDER BY xact_start LIMIT $1`,
    [limit],
  );
  return rows.map(
    (session) =>
      `pid ${session.pid} (database ${session.datname ?? '?'}, user ${session.usename ?? '?'}, ${session.state ?? 'state unknown'} since a transaction began at ${session.xact_start.toISOString()})`,
  );
}
