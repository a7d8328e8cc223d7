import pg from 'pg';
import { formatPosition, type LogPosition } from '../event-store.ts';
import { withTransactionClient, type Pool } from '../../infra/postgres/pool.ts';
import { CheckpointMovedError, claimCheckpointSql, writeCheckpointSql } from './checkpoints.ts';
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
 * One batch in one transaction of four round trips: BEGIN goes with the claim, and the checkpoint,
 * the announcement and COMMIT go together; between them the load and the write. The live lag is
 * mostly round trips, as many as eight before. The events before a poison event are committed,
 * then it throws PoisonEventError.
 */
export async function commitBatch<Row, Folded extends FoldedBatch<Row>>(
  pool: Pool,
  run: BatchRun<Row, Folded>,
  events: readonly FeedEvent[],
): Promise<Folded> {
  const folded = await withTransactionClient(pool, (client) =>
    projectBatch(client, run, events, { ownTransaction: true }),
  );
  if (folded.poison) throw new PoisonEventError(folded.poison);
  return folded;
}

/**
 * Applies one batch: fence the checkpoint, fold the batch over the stored rows, write rows and
 * checkpoint (with the log the events come from), announce. In the caller's transaction, or, with
 * `ownTransaction`, in one it begins and commits (the caller rolls back on a throw). Stops short
 * of a poison event (reported in the result, or thrown when it is the first event, leaving nothing
 * to commit).
 */
export async function projectBatch<Row, Folded extends FoldedBatch<Row>>(
  db: pg.ClientBase,
  { definition, target, from, log }: BatchRun<Row, Folded>,
  events: readonly FeedEvent[],
  { ownTransaction = false } = {},
): Promise<Folded> {
  if (events.length === 0) return definition.fold(new Map(), events);
  const claim = claimCheckpointSql(target.checkpoint, from, log);
  const claimed = await db.query(ownTransaction ? `BEGIN; ${claim}` : claim);
  if (lastOf(claimed).rowCount !== 1) throw new CheckpointMovedError(target.checkpoint);
  const keys = [...new Set(events.map((event) => definition.keyOfEvent(event) ?? ''))];
  const folded = definition.fold(await definition.load(db, target.table, keys), events);
  if (!folded.through) throw new PoisonEventError(folded.poison!); // the first event is poison
  await definition.write(db, target.table, folded);
  const changed = folded.rows.map((row) => definition.keyOfRow(row));
  await db.query(
    [
      writeCheckpointSql(target.checkpoint, folded.through, log),
      ...(target.announce && changed.length > 0
        ? [announceChangesSql(definition.changedChannel, changed)]
        : []),
      ...(ownTransaction ? ['COMMIT'] : []),
    ].join(';\n'),
  );
  return folded;
}

/** Several statements in one query answer with one result each. */
const lastOf = (result: pg.QueryResult | pg.QueryResult[]) =>
  Array.isArray(result) ? result[result.length - 1]! : result;

/**
 * Queued in the caller's transaction: listeners hear of it only once it commits. A parameter, not
 * literals: a replay's swap may announce every instance there is.
 */
export async function announceChanges(
  db: Queryable,
  channel: string,
  keys: readonly string[],
): Promise<void> {
  if (keys.length === 0) return;
  await db.query('SELECT pg_notify($1, name) FROM unnest($2::text[]) AS name', [channel, keys]);
}

/** The same as a batch's last message carries it (see checkpoints.ts): at most a batch of keys. */
function announceChangesSql(channel: string, keys: readonly string[]): string {
  const names = keys.map((key) => pg.escapeLiteral(key)).join(', ');
  return `SELECT pg_notify(${pg.escapeLiteral(channel)}, name) FROM unnest(ARRAY[${names}]::text[]) AS name`;
}
