import type pg from 'pg';
import { comparePositions, type LogPosition } from '../commands/event-store.ts';
import { instanceStreamCategory } from '../domain/s3-config.ts';
import { inTransaction, type Pool } from '../infra/postgres/pool.ts';
import { deleteCheckpoint, readCheckpointIfIn, writeCheckpoint } from './checkpoints.ts';
import type { EventFeed, FeedEvent, LogIdentity } from './event-feed.ts';
import {
  commitBatch,
  liveProjection,
  PoisonEventError,
  projectBatch,
  type KeyShredder,
  type ProjectionTarget,
} from './project-batch.ts';
import {
  compareWithLive,
  createRebuildTable,
  dropRebuildTable,
  swapInRebuild,
  type RowDifference,
} from './rebuild-table.ts';
import { announceChanges } from './s3-config-table.ts';

export const rebuildProjection: ProjectionTarget = {
  table: 'instance_s3_config_rebuild',
  checkpoint: 's3-config:rebuild',
  announce: false,
};

export interface ReplayDeps {
  pool: Pool;
  feed: EventFeed;
  keyring: KeyShredder;
  /** Called after every batch with the number of events replayed so far. */
  onProgress?: (events: number) => void;
  maxBatch?: number;
  /** How long --verify gives a live projection that is behind the rebuild to catch up. */
  liveLagWaitMs?: number;
}

export interface ReplayOutcome {
  events: number;
  /** Instances whose rebuilt row differs from the live one, as they were compared. */
  differences: RowDifference[];
  swapped: boolean;
  /** The live projection had not reached the end of the rebuild when they were compared. */
  liveBehind: boolean;
}

export class ReplayBusy extends Error {}

const lockName = `stowage:replay:${liveProjection.checkpoint}`;
// The bulk of the log counts as read once a batch comes back short, or nothing arrived for this
// long after the last one. Stopping early costs no correctness, only time: the rebuild is then
// brought up to the live checkpoint, and the live projector goes on from wherever it ends.
const caughtUpAfterIdleMs = 300;

/**
 * `stowage replay`: the projection's own code, run from the start of the log into a fresh table.
 * Then, holding the live checkpoint so that the live projector pauses, the rebuild is brought to
 * exactly the live checkpoint and either compared with the live table (verify) or swapped in for
 * it, checkpoint and all, in one transaction. The live table serves reads until that commit.
 */
export async function replayReadModel(
  deps: ReplayDeps,
  { verify }: { verify: boolean },
): Promise<ReplayOutcome> {
  return alone(deps.pool, async () => {
    await inTransaction(deps.pool, async (db) => {
      await createRebuildTable(db);
      await deleteCheckpoint(db, rebuildProjection.checkpoint);
    });
    try {
      const rebuild: Rebuild = { log: await deps.feed.logIdentity(), checkpoint: null, events: 0 };
      await readToEnd(deps, rebuild);
      // Most of what the live projector did meanwhile is caught up before its lock is taken.
      await readUpTo(deps, rebuild, await liveCheckpoint(deps.pool, rebuild.log));
      if (verify) await waitForLive(deps.pool, rebuild, deps.liveLagWaitMs ?? 5000);
      return { events: rebuild.events, ...(await finish(deps, rebuild, verify)) };
    } finally {
      await inTransaction(deps.pool, async (db) => {
        await dropRebuildTable(db);
        await deleteCheckpoint(db, rebuildProjection.checkpoint);
      });
    }
  });
}

/** Runs `work` holding the replay lock: two replays would share the rebuild table. */
async function alone<T>(pool: Pool, work: () => Promise<T>): Promise<T> {
  const session = await pool.connect();
  let result: T;
  try {
    const { rows } = await session.query<{ held: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held',
      [lockName],
    );
    if (!rows[0]?.held) throw new ReplayBusy('another replay of the read model is running');
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
 * The live checkpoint, if it is in the replayed log: a position in another log (the event store
 * was switched) is nothing to catch up to, and the swap replaces it.
 */
const liveCheckpoint = (db: Pool | pg.ClientBase, log: LogIdentity, lock = false) =>
  readCheckpointIfIn(db, liveProjection.checkpoint, log, { lock });

interface Rebuild {
  /** The log replayed: the live checkpoint is swapped in with it. */
  log: LogIdentity;
  checkpoint: LogPosition | null;
  events: number;
}

/**
 * One batch into the rebuild: in a transaction of its own, or in `db`'s (which the caller
 * commits).
 */
async function apply(
  deps: ReplayDeps,
  rebuild: Rebuild,
  events: readonly FeedEvent[],
  db?: pg.ClientBase,
): Promise<void> {
  const { checkpoint, log } = rebuild;
  const folded = db
    ? await projectBatch(db, rebuildProjection, checkpoint, events, deps.keyring, log)
    : await commitBatch(deps.pool, rebuildProjection, checkpoint, events, deps.keyring, log);
  if (folded.poison) throw new PoisonEventError(folded.poison);
  rebuild.checkpoint = folded.through ?? rebuild.checkpoint;
  rebuild.events += events.length;
  deps.onProgress?.(rebuild.events);
}

async function readToEnd(deps: ReplayDeps, rebuild: Rebuild): Promise<void> {
  const maxBatch = deps.maxBatch ?? 2000;
  await readAlong(deps.feed, rebuild.checkpoint, maxBatch, caughtUpAfterIdleMs, async (events) => {
    await apply(deps, rebuild, events);
    return events.length === maxBatch;
  });
}

/** Applies the events up to and including `target`, if the rebuild has not reached it. */
async function readUpTo(
  deps: ReplayDeps,
  rebuild: Rebuild,
  target: LogPosition | null,
  db?: pg.ClientBase,
): Promise<void> {
  const reached = () =>
    !target || (rebuild.checkpoint !== null && comparePositions(rebuild.checkpoint, target) >= 0);
  if (reached()) return;
  await readAlong(
    deps.feed,
    rebuild.checkpoint,
    deps.maxBatch ?? 2000,
    undefined,
    async (events) => {
      const due = events.filter((event) => comparePositions(event.position, target!) <= 0);
      if (due.length > 0) await apply(deps, rebuild, due, db);
      return due.length === events.length && !reached();
    },
  );
}

async function finish(
  deps: ReplayDeps,
  rebuild: Rebuild,
  verify: boolean,
): Promise<Omit<ReplayOutcome, 'events'>> {
  const db = await deps.pool.connect();
  try {
    await db.query('BEGIN');
    const live = await liveCheckpoint(db, rebuild.log, true);
    await readUpTo(deps, rebuild, live, db);
    const rebuilt = rebuild.checkpoint;
    const liveBehind = rebuilt !== null && (!live || comparePositions(live, rebuilt) < 0);
    const differences = await compareWithLive(db);
    if (verify) {
      await db.query('ROLLBACK');
      return { differences, swapped: false, liveBehind };
    }
    await swapInRebuild(db);
    if (rebuilt) await writeCheckpoint(db, liveProjection.checkpoint, rebuilt, rebuild.log);
    await announceChanges(
      db,
      differences.map((difference) => difference.instance),
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

/**
 * Subscribes from `from` and hands each batch to `step` until it answers false, or, given
 * `idleMs`, until no batch arrived for that long.
 */
async function readAlong(
  feed: EventFeed,
  from: LogPosition | null,
  maxBatch: number,
  idleMs: number | undefined,
  step: (events: readonly FeedEvent[]) => Promise<boolean>,
): Promise<void> {
  const stop = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (idleMs !== undefined) idle = setTimeout(() => stop.abort(), idleMs);
  };
  armIdle();
  try {
    await feed.subscribe(
      instanceStreamCategory,
      from,
      async (events) => {
        clearTimeout(idle);
        if (await step(events)) armIdle();
        else stop.abort();
      },
      { signal: stop.signal, maxBatch },
    );
  } finally {
    clearTimeout(idle);
  }
}

async function waitForLive(pool: Pool, rebuild: Rebuild, waitMs: number) {
  const deadline = Date.now() + waitMs;
  const rebuilt = rebuild.checkpoint;
  while (rebuilt && Date.now() < deadline) {
    const live = await liveCheckpoint(pool, rebuild.log);
    if (live && comparePositions(live, rebuilt) >= 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
