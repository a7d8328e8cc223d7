import type pg from 'pg';
import type { LogPosition } from '../commands/event-store.ts';
import type { LogIdentity } from './event-feed.ts';
import { StowageError } from '../shared/errors.ts';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The stored checkpoint is not the one this writer started from: someone else moved it. */
export class CheckpointMovedError extends StowageError {
  constructor(readonly checkpoint: string) {
    super('checkpoint-moved', `projection checkpoint ${checkpoint} was moved by another writer`);
  }
}

/** The checkpoint was written reading another event log: its position means nothing here. */
export class CheckpointOfAnotherLogError extends StowageError {
  constructor(checkpoint: string, stored: LogIdentity, current: LogIdentity) {
    super(
      'checkpoint-of-another-log',
      `projection checkpoint ${checkpoint} was written reading the ${stored.store} event log ${stored.id}, ` +
        `but this process reads the ${current.store} event log ${current.id}; ` +
        'run `stowage replay` to rebuild the read model from this event store, then restart the projector',
    );
  }
}

interface CheckpointRow {
  position_major: string;
  position_minor: string;
  log_store: LogIdentity['store'] | null;
  log_id: string | null;
}

const checkpointColumns = 'position_major, position_minor, log_store, log_id';

/** Null before the projection committed anything: it starts from the beginning of the log. */
export async function readCheckpoint(db: Queryable, name: string): Promise<LogPosition | null> {
  return positionOf(await readRow(db, name, ''));
}

/**
 * The checkpoint's position, which must be in `log`: null when there is none, CheckpointOfAnotherLogError
 * when another log's. A checkpoint from before logs were recorded is taken to be in `log`.
 */
export async function readCheckpointIn(
  db: Queryable,
  name: string,
  log: LogIdentity,
  { lock = false } = {},
): Promise<LogPosition | null> {
  const row = await readRow(db, name, lock ? 'FOR UPDATE' : '');
  if (row?.log_store && !isIn(row, log)) {
    throw new CheckpointOfAnotherLogError(
      name,
      { store: row.log_store, id: row.log_id ?? '' },
      log,
    );
  }
  return positionOf(row);
}

/**
 * Like readCheckpointIn, but another log's position counts as none: for those who rebuild or
 * measure against `log` and have no use for a position elsewhere.
 */
export async function readCheckpointIfIn(
  db: Queryable,
  name: string,
  log: LogIdentity,
  { lock = false } = {},
): Promise<LogPosition | null> {
  const row = await readRow(db, name, lock ? 'FOR UPDATE' : '');
  return row && (!row.log_store || isIn(row, log)) ? positionOf(row) : null;
}

function isIn(row: CheckpointRow, log: LogIdentity): boolean {
  return row.log_store === log.store && row.log_id === log.id;
}

async function readRow(db: Queryable, name: string, lock: string) {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT ${checkpointColumns} FROM projection_checkpoints WHERE name = $1 ${lock}`,
    [name],
  );
  return rows[0];
}

/**
 * Optimistic fencing, the first statement of a projection transaction: locks the checkpoint row if
 * it is still at `expected` (creating it when `expected` is null), else throws CheckpointMovedError.
 * Taking this lock before any row lock orders every writer of the read model the same way.
 */
export async function claimCheckpoint(
  db: Queryable,
  name: string,
  expected: LogPosition | null,
  log: LogIdentity,
): Promise<void> {
  const { rowCount } = expected
    ? await db.query(
        `UPDATE projection_checkpoints SET updated_at = now()
         WHERE name = $1 AND position_major = $2 AND position_minor = $3`,
        [name, expected[0].toString(), expected[1].toString()],
      )
    : await db.query(
        `INSERT INTO projection_checkpoints (name, position_major, position_minor, log_store, log_id)
         VALUES ($1, 0, 0, $2, $3) ON CONFLICT (name) DO NOTHING`,
        [name, log.store, log.id],
      );
  if (rowCount !== 1) throw new CheckpointMovedError(name);
}

/**
 * Sets a checkpoint whose row this transaction holds (claimCheckpoint) or creates it, with the
 * log its position is in.
 */
export async function writeCheckpoint(
  db: Queryable,
  name: string,
  position: LogPosition,
  log: LogIdentity,
): Promise<void> {
  await db.query(
    `INSERT INTO projection_checkpoints (name, position_major, position_minor, log_store, log_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name) DO UPDATE SET position_major = excluded.position_major,
       position_minor = excluded.position_minor, log_store = excluded.log_store,
       log_id = excluded.log_id, updated_at = now()`,
    [name, position[0].toString(), position[1].toString(), log.store, log.id],
  );
}

export async function deleteCheckpoint(db: Queryable, name: string): Promise<void> {
  await db.query('DELETE FROM projection_checkpoints WHERE name = $1', [name]);
}

function positionOf(row: CheckpointRow | undefined): LogPosition | null {
  return row ? [BigInt(row.position_major), BigInt(row.position_minor)] : null;
}
