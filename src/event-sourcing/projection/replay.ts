import type pg from 'pg';
import { comparePositions, type LogPosition } from '../event-store.ts';
import { inTransaction, type Pool } from '../../infra/postgres/pool.ts';
import { deleteCheckpoint, positionIn, readCheckpoint, writeCheckpoint } from './checkpoints.ts';
import {
  liveTarget,
  rebuildTarget,
  type FoldedBatch,
  type ProjectionDefinition,
} from './definition.ts';
import type { EventFeed, FeedEvent, LogIdentity } from './event-feed.ts';
import { announceChanges, commitBatch, PoisonEventError, projectBatch } from './project-batch.ts';
import { readAlong } from './read-along.ts';
import {
  compareWithLive,
  createRebuildTable,
  dropRebuildTable,
  swapInRebuild,
  type RowDifference,
} from './rebuild-table.ts';
import { StowageError } from '../../shared/errors.ts';

export interface ReplayDeps<Row, Folded extends FoldedBatch<Row>> {
  definition: ProjectionDefinition<Row, Folded>;
  pool: Pool;
  feed: EventFeed;
  /** Called after every batch with the number of events replayed so far. */
  onProgress?: (events: number) => void;
  /**
   * Called once per event the replay finds waiting: recorded before the replay began, but not
   * handed over by the feed yet (held back behind an older open transaction, which the replay
   * waits for).
   */
  onHeldBack?: (recordedAt: Date) => void;
  maxBatch?: number;
  /** How long --verify gives a live projection that is behind the rebuild to catch up. */
  liveLagWaitMs?: number;
}

export interface ReplayOutcome {
  events: number;
  /** Rows of the rebuilt table that differ from the live one, as they were compared. */
  differences: RowDifference[];
  swapped: boolean;
  /** The live projection had not reached the end of the rebuild when they were compared. */
  liveBehind: boolean;
}

export class ReplayBusyError extends StowageError {
  constructor(message: string) {
    super('replay-busy', message);
  }
}

// The bulk of the log counts as read once the log holds nothing after the rebuild that was
// recorded before the reading began, checked when a batch comes back short or nothing arrived for
// this long. A short batch is only the end of what the feed shows yet: it holds back events
// committed behind an older open transaction, anywhere in the cluster. A loaded store's pause is
// not its end either, and the wait doubles each time it is mistaken for one.
const caughtUpAfterIdleMs = 300;

/**
 * `stowage replay`: a projection's own code, run from the start of the log into a fresh table.
 * Then, holding the live checkpoint so that the live projector pauses, the rebuild is brought to
 * exactly the live checkpoint and either compared with the live table (verify) or swapped in for
 * it, checkpoint and all, in one transaction. The live table serves reads until that commit.
 */
export async function replayReadModel<Row, Folded extends FoldedBatch<Row>>(
  deps: ReplayDeps<Row, Folded>,
  { verify }: { verify: boolean },
): Promise<ReplayOutcome> {
  const { tables, name } = deps.definition;
  const rebuildCheckpoint = rebuildTarget(deps.definition).checkpoint;
  return alone(deps.pool, `stowage:replay:${name}`, async () => {
    await inTransaction(deps.pool, async (db) => {
      await createRebuildTable(db, tables);
      await deleteCheckpoint(db, rebuildCheckpoint);
    });
    try {
      const rebuild: Rebuild = { log: await deps.feed.logIdentity(), position: null, events: 0 };
      await readToEnd(deps, rebuild);
      // Most of what the live projector did meanwhile is caught up before its lock is taken.
      await readUpTo(deps, rebuild, await livePosition(name, deps.pool, rebuild.log));
      if (verify) await waitForLive(deps, rebuild, deps.liveLagWaitMs ?? 5000);
      return { events: rebuild.events, ...(await finish(deps, rebuild, verify)) };
    } finally {
      await inTransaction(deps.pool, async (db) => {
        await dropRebuildTable(db, tables);
        await deleteCheckpoint(db, rebuildCheckpoint);
      });
    }
  });
}

/** Runs `work` holding the replay lock: two replays would share the rebuild table. */
async function alone<T>(pool: Pool, lockName: string, work: () => Promise<T>): Promise<T> {
  const session = await pool.connect();
  let result: T;
  try {
    const { rows } = await session.query<{ held: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held',
      [lockName],
    );
    if (!rows[0]?.held) throw new ReplayBusyError('another replay of the read model is running');
    result = await work();
    await session.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockName]);
  } catch (error) {
    // Ending the session releases its advisory lock, whatever state it is in.
    session.release(true);
    throw error;
  }
  session.release();
  return result;
}

/**
 * The live checkpoint's position, if it is in the replayed log: a position in another log (the
 * event store was switched) is nothing to catch up to, and the swap replaces it.
 */
const livePosition = async (projection: string, db: Pool | pg.ClientBase, log: LogIdentity) =>
  positionIn(await readCheckpoint(db, projection), log);

interface Rebuild {
  /** The log replayed: the live checkpoint is swapped in with it. */
  log: LogIdentity;
  /** How far the rebuild is. */
  position: LogPosition | null;
  events: number;
}

/**
 * One batch into the rebuild: in a transaction of its own, or in `db`'s (which the caller
 * commits).
 */
async function apply<Row, Folded extends FoldedBatch<Row>>(
  { definition, pool, onProgress }: ReplayDeps<Row, Folded>,
  rebuild: Rebuild,
  events: readonly FeedEvent[],
  db?: pg.ClientBase,
): Promise<void> {
  const { position, log } = rebuild;
  const run = { definition, target: rebuildTarget(definition), from: position, log };
  const folded = db ? await projectBatch(db, run, events) : await commitBatch(pool, run, events);
  if (folded.poison) throw new PoisonEventError(folded.poison);
  rebuild.position = folded.through ?? rebuild.position;
  rebuild.events += events.length;
  onProgress?.(rebuild.events);
}

async function readToEnd<Row, Folded extends FoldedBatch<Row>>(
  deps: ReplayDeps<Row, Folded>,
  rebuild: Rebuild,
): Promise<void> {
  const maxBatch = deps.maxBatch ?? 2000;
  const { category } = deps.definition;
  // Without a live checkpoint in this log there is nothing to catch up to later: what is read
  // here is what the swapped-in table holds. What is appended while it reads is left to the
  // live projector, or a log that never pauses would never be read to its end.
  const began = await deps.feed.currentTime();
  let heldBack: Date | undefined;
  for (let idleMs = caughtUpAfterIdleMs; ; idleMs *= 2) {
    let short = false;
    await readAlong(deps.feed, category, rebuild.position, maxBatch, idleMs, async (events) => {
      await apply(deps, rebuild, events);
      short = events.length < maxBatch;
      return !short;
    });
    const next = await deps.feed.firstRecordedAfter(category, rebuild.position);
    if (next === null || (short && next >= began)) return;
    if (next < began && next.getTime() !== heldBack?.getTime()) deps.onHeldBack?.(next);
    heldBack = next;
  }
}

/** Applies the events up to and including `target`, if the rebuild has not reached it. */
async function readUpTo<Row, Folded extends FoldedBatch<Row>>(
  deps: ReplayDeps<Row, Folded>,
  rebuild: Rebuild,
  target: LogPosition | null,
  db?: pg.ClientBase,
): Promise<void> {
  const reached = () =>
    !target || (rebuild.position !== null && comparePositions(rebuild.position, target) >= 0);
  if (reached()) return;
  await readAlong(
    deps.feed,
    deps.definition.category,
    rebuild.position,
    deps.maxBatch ?? 2000,
    undefined,
    async (events) => {
      const due = events.filter((event) => comparePositions(event.position, target!) <= 0);
      if (due.length > 0) await apply(deps, rebuild, due, db);
      return due.length === events.length && !reached();
    },
  );
}

async function finish<Row, Folded extends FoldedBatch<Row>>(
  deps: ReplayDeps<Row, Folded>,
  rebuild: Rebuild,
  verify: boolean,
): Promise<Omit<ReplayOutcome, 'events'>> {
  const db = await deps.pool.connect();
  try {
    await db.query('BEGIN');
    const { definition } = deps;
    // Checkpoint writes wait until this transaction ends, and one in flight is waited for. A lock
    // on the live checkpoint's row would miss a projector creating that row meanwhile (its first
    // batch), whose newer position the swap would then overwrite with the rebuild's older one.
    await db.query('LOCK TABLE projection_checkpoints IN SHARE ROW EXCLUSIVE MODE');
    const live = await livePosition(definition.name, db, rebuild.log);
    await readUpTo(deps, rebuild, live, db);
    const rebuilt = rebuild.position;
    const liveBehind = rebuilt !== null && (!live || comparePositions(live, rebuilt) < 0);
    const differences = await compareWithLive(db, definition.tables);
    if (verify) {
      await db.query('ROLLBACK');
      return { differences, swapped: false, liveBehind };
    }
    await swapInRebuild(db, definition.tables);
    if (rebuilt) {
      await writeCheckpoint(db, liveTarget(definition).checkpoint, rebuilt, rebuild.log);
    }
    await announceChanges(
      db,
      definition.changedChannel,
      differences.map((difference) => difference.key),
    );
    await db.query('COMMIT');
    return { differences, swapped: true, liveBehind };
  } catch (error) {
    // eslint-disable-next-line no-restricted-syntax -- a failed ROLLBACK means a broken connection, which the pool drops on release
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    db.release();
  }
}

async function waitForLive<Row, Folded extends FoldedBatch<Row>>(
  deps: ReplayDeps<Row, Folded>,
  rebuild: Rebuild,
  waitMs: number,
) {
  const deadline = Date.now() + waitMs;
  const rebuilt = rebuild.position;
  while (rebuilt && Date.now() < deadline) {
    const live = await livePosition(deps.definition.name, deps.pool, rebuild.log);
    if (live && comparePositions(live, rebuilt) >= 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
