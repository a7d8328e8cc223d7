import type pg from 'pg';
import { formatPosition, type LogPosition } from '../event-store.ts';
import { inTransaction, type Pool } from '../../infra/postgres/pool.ts';
import { claimCheckpoint, writeCheckpoint } from './checkpoints.ts';
import type {
  FoldedBatch,
  PoisonEvent,
  ProjectionDefinition,
  ProjectionTarget,
  Queryable,
} from './definition.ts';
import type { FeedEvent, LogIdentity } from './event-feed.ts';
import { StowageError } from '../../shared/errors.ts';

/** An event the projection cannot apply; it stops there, with its checkpoint just before it. */
export class PoisonEventError extends StowageError {
  constructor(readonly event: PoisonEvent) {
    super(
      'poison-event',
      `poison event ${event.type} in stream ${event.stream} at revision ${event.revision} (position ${formatPosition(event.position)}): ${event.reason}`,
    );
  }
}

/** Where a batch goes: a projection's target, from its checkpoint's position in `log`. */
export interface BatchRun<Row, Folded extends FoldedBatch<Row>> {
  definition: ProjectionDefinition<Row, Folded>;
  target: ProjectionTarget;
  /** The position the target's checkpoint must still be at (null: no checkpoint yet). */
  from: LogPosition | null;
  /** The log the events come from: the checkpoint records it. */
  log: LogIdentity;
}

/**
 * One batch in one transaction. The events before a poison event are committed, then it throws
 * PoisonEventError.
 */
export async function commitBatch<Row, Folded extends FoldedBatch<Row>>(
  pool: Pool,
  run: BatchRun<Row, Folded>,
  events: readonly FeedEvent[],
): Promise<Folded> {
  const folded = await inTransaction(pool, (client) => projectBatch(client, run, events));
  if (folded.poison) throw new PoisonEventError(folded.poison);
  return folded;
}

/**
 * Applies one batch inside the caller's transaction: fence the checkpoint, fold the batch over the
 * stored rows, write rows and checkpoint (with the log the events come from), announce. Stops
 * short of a poison event (reported in the result, or thrown when it is the first event, leaving
 * nothing to commit).
 */
export async function projectBatch<Row, Folded extends FoldedBatch<Row>>(
  db: pg.ClientBase,
  { definition, target, from, log }: BatchRun<Row, Folded>,
  events: readonly FeedEvent[],
): Promise<Folded> {
  if (events.length === 0) return definition.fold(new Map(), events);
  await claimCheckpoint(db, target.checkpoint, from, log);
  const keys = [...new Set(events.map((event) => definition.keyOfEvent(event) ?? ''))];
  const folded = definition.fold(await definition.load(db, target.table, keys), events);
  if (!folded.through) throw new PoisonEventError(folded.poison!); // the first event is poison
  await definition.write(db, target.table, folded);
  await writeCheckpoint(db, target.checkpoint, folded.through, log);
  if (target.announce) {
    await announceChanges(
      db,
      definition.changedChannel,
      folded.rows.map((row) => definition.keyOfRow(row)),
    );
  }
  return folded;
}

/** Queued in the caller's transaction: listeners hear of it only once it commits. */
export async function announceChanges(
  db: Queryable,
  channel: string,
  keys: readonly string[],
): Promise<void> {
  if (keys.length === 0) return;
  await db.query('SELECT pg_notify($1, name) FROM unnest($2::text[]) AS name', [channel, keys]);
}
