import pg from 'pg';
import type { ProjectionTables, Queryable } from './definition.ts';

/** The SQL side of `stowage replay`: a fresh table beside the live one, compared, swapped in. */

/** An empty copy of the live table's definition, whatever columns it has gained since. */
export async function createRebuildTable(
  db: Queryable,
  { live, rebuild }: ProjectionTables,
): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${rebuild}`);
  await db.query(`CREATE TABLE ${rebuild} (LIKE ${live} INCLUDING ALL)`);
}

export async function dropRebuildTable(db: Queryable, { rebuild }: ProjectionTables) {
  await db.query(`DROP TABLE IF EXISTS ${rebuild}`);
}

export interface RowDifference {
  /** The row's key. */
  key: string;
  /** Which table lacks the row, or else the columns whose values differ. */
  missingFrom?: 'live' | 'rebuilt';
  columns: string[];
}

export async function compareWithLive(
  db: Queryable,
  { live, rebuild, key }: ProjectionTables,
): Promise<RowDifference[]> {
  const { rows } = await db.query<{
    key: string;
    missing_live: boolean;
    missing_rebuilt: boolean;
    columns: string[];
  }>(
    `SELECT coalesce(l.${key}, r.${key}) AS key,
            l.${key} IS NULL AS missing_live, r.${key} IS NULL AS missing_rebuilt,
            ARRAY(SELECT key FROM jsonb_each(to_jsonb(l)) AS c(key, value)
                  WHERE value IS DISTINCT FROM to_jsonb(r) -> key ORDER BY key) AS columns
     FROM ${live} l FULL JOIN ${rebuild} r ON l.${key} = r.${key}
     WHERE to_jsonb(l) IS DISTINCT FROM to_jsonb(r)
     ORDER BY 1`,
  );
  return rows.map((row) => ({
    key: row.key,
    ...(row.missing_live ? { missingFrom: 'live' as const } : {}),
    ...(row.missing_rebuilt ? { missingFrom: 'rebuilt' as const } : {}),
    columns: row.columns,
  }));
}

/**
 * Puts the rebuilt table in the live one's place, in the caller's transaction: readers of the live
 * table are served until it commits. Index names follow, so the next rebuild can reuse them.
 */
export async function swapInRebuild(
  db: Queryable,
  { live, rebuild }: ProjectionTables,
): Promise<void> {
  const { rows } = await db.query<{ indexname: string }>(
    `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1`,
    [rebuild],
  );
  await db.query(`DROP TABLE ${live}`);
  await db.query(`ALTER TABLE ${rebuild} RENAME TO ${live}`);
  for (const { indexname } of rows) {
    if (!indexname.startsWith(rebuild)) continue;
    const renamed = live + indexname.slice(rebuild.length);
    await db.query(
      `ALTER INDEX ${pg.escapeIdentifier(indexname)} RENAME TO ${pg.escapeIdentifier(renamed)}`,
    );
  }
}
