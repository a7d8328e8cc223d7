import pg from 'pg';
import type { LogPosition } from '../event-store.ts';
import type { Queryable } from './definition.ts';
import type { LogIdentity } from './event-feed.ts';
import { StowageError } from '../../shared/errors.ts';

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

/** A projection's stored checkpoint: how far it got, and in which event log. */
export interface Checkpoint {
  name: string;
  position: LogPosition;
  /** Null for a checkpoint written before logs were recorded: taken to be in any log. */
  log: LogIdentity | null;
}

interface CheckpointRow {
  position_major: string;
  position_minor: string;
  log_store: LogIdentity['store'] | null;
  log_id: string | null;
}

/** Undefined before the projection committed anything: it starts from the beginning of the log. */
export async function readCheckpoint(db: Queryable, name: string): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT position_major, position_minor, log_store, log_id
     FROM projection_checkpoints WHERE name = $1`,
    [name],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    name,
    position: [BigInt(row.position_major), BigInt(row.position_minor)],
    log: row.log_store ? { store: row.log_store, id: row.log_id ?? '' } : null,
  };
}

/**
 * Where to go on in `log` from: null when there is no checkpoint; CheckpointOfAnotherLogError when it
 * is another log's.
 */
export function resumePosition(
  checkpoint: Checkpoint | undefined,
  log: LogIdentity,
): LogPosition | null {
  if (checkpoint?.log && !sameLog(checkpoint.log, log)) {
    throw new CheckpointOfAnotherLogError(checkpoint.name, checkpoint.log, log);
  }
  return checkpoint?.position ?? null;
}

/**
 * The checkpoint's position when it is in `log`, else null: for those who rebuild or measure
 * against `log` and have no use for a position elsewhere.
 */
export function positionIn(
  checkpoint: Checkpoint | undefined,
  log: LogIdentity,
): LogPosition | null {
  return checkpoint && (!checkpoint.log || sameLog(checkpoint.log, log))
    ? checkpoint.position
    : null;
}

function sameLog(a: LogIdentity, b: LogIdentity): boolean {
  return a.store === b.store && a.id === b.id;
}

// The checkpoint statements are written with their values as literals (escaped), so that a
// projection batch can send each in one message with its transaction's BEGIN or COMMIT: the
// simple query protocol, the only one that carries several statements, takes no parameters.

/**
 * Optimistic fencing, the first statement of a projection transaction: locks the checkpoint row if
 * it is still at `expected` (creating it when `expected` is null). Affects one row, or none when
 * another writer moved it (CheckpointMovedError). Taking this lock before any row lock orders
 * every writer of the read model the same way.
 */
export function claimCheckpointSql(
  name: string,
  expected: LogPosition | null,
  log: LogIdentity,
): string {
  return expected
    ? `UPDATE projection_checkpoints SET updated_at = now()
       WHERE name = ${pg.escapeLiteral(name)} AND position_major = ${expected[0]}
         AND position_minor = ${expected[1]}`
    : `INSERT INTO projection_checkpoints (name, position_major, position_minor, log_store, log_id)
       VALUES (${pg.escapeLiteral(name)}, 0, 0, ${pg.escapeLiteral(log.store)}, ${pg.escapeLiteral(log.id)})
       ON CONFLICT (name) DO NOTHING`;
}

/**
 * Sets a checkpoint whose row this transaction holds (claimCheckpointSql) or creates it, with
 * the log its position is in.
 */
export function writeCheckpointSql(name: string, position: LogPosition, log: LogIdentity): string {
  return `INSERT INTO projection_checkpoints (name, position_major, position_minor, log_store, log_id)
     VALUES (${pg.escapeLiteral(name)}, ${position[0]}, ${position[1]}, ${pg.escapeLiteral(log.store)}, ${pg.escapeLiteral(log.id)})
     ON CONFLICT (name) DO UPDATE SET position_major = excluded.position_major,
       position_minor = excluded.position_minor, log_store = excluded.log_store,
       log_id = excluded.log_id, updated_at = now()`;
}

export async function writeCheckpoint(
  db: Queryable,
  name: string,
  position: LogPosition,
  log: LogIdentity,
): Promise<void> {
  await db.query(writeCheckpointSql(name, position, log));
}

export async function deleteCheckpoint(db: Queryable, name: string): Promise<void> {
  await db.query('DELETE FROM projection_checkpoints WHERE name = $1', [name]);
}
