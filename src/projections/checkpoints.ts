import type pg from 'pg';
import type { LogPosition } from '../commands/event-store.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The stored checkpoint is not the one this writer started from: someone else moved it. */
export class CheckpointMoved extends Error {
  constructor(readonly checkpoint: string) {
    super(`projection checkpoint ${checkpoint} was moved by another writer`);
  }
}

/** Null before the projection committed anything: it starts from the beginning of the log. */
export async function readCheckpoint(db: Queryable, name: string): Promise<LogPosition | null> {
  const { rows } = await db.query<{ position_major: string; position_minor: string }>(
    'SELECT position_major, position_minor FROM projection_checkpoints WHERE name = $1',
    [name],
  );
  return positionOf(rows[0]);
}

/**
 * Optimistic fencing, the first statement of a projection transaction: locks the checkpoint row if
 * it is still at `expected` (creating it when `expected` is null), else throws CheckpointMoved.
 * Taking this lock before any row lock orders every writer of the read model the same way.
 */
export async function claimCheckpoint(
  db: Queryable,
  name: string,
  expected: LogPosition | null,
): Promise<void> {
  const { rowCount } = expected
    ? await db.query(
        `UPDATE projection_checkpoints SET updated_at = now()
         WHERE name = $1 AND position_major = $2 AND position_minor = $3`,
        [name, expected[0].toString(), expected[1].toString()],
      )
    : await db.query(
        `INSERT INTO projection_checkpoints (name, position_major, position_minor)
         VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING`,
        [name],
      );
  if (rowCount !== 1) throw new CheckpointMoved(name);
}

/** Sets a checkpoint whose row this transaction holds (claimCheckpoint) or creates it. */
export async function writeCheckpoint(
  db: Queryable,
  name: string,
  position: LogPosition,
): Promise<void> {
  await db.query(
    `INSERT INTO projection_checkpoints (name, position_major, position_minor) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET position_major = excluded.position_major,
       position_minor = excluded.position_minor, updated_at = now()`,
    [name, position[0].toString(), position[1].toString()],
  );
}

/**
 * Reads a checkpoint and holds its row until the transaction ends: the projection it belongs to
 * cannot commit meanwhile (claimCheckpoint waits for it).
 */
export async function lockCheckpoint(db: Queryable, name: string): Promise<LogPosition | null> {
  const { rows } = await db.query<{ position_major: string; position_minor: string }>(
    'SELECT position_major, position_minor FROM projection_checkpoints WHERE name = $1 FOR UPDATE',
    [name],
  );
  return positionOf(rows[0]);
}

export async function deleteCheckpoint(db: Queryable, name: string): Promise<void> {
  await db.query('DELETE FROM projection_checkpoints WHERE name = $1', [name]);
}

function positionOf(
  row: { position_major: string; position_minor: string } | undefined,
): LogPosition | null {
  return row ? [BigInt(row.position_major), BigInt(row.position_minor)] : null;
}
