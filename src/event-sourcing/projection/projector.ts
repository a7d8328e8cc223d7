import type pg from 'pg';
import { formatPosition, type LogPosition } from '../event-store.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Pool } from '../../infra/postgres/pool.ts';
import { holdAdvisoryLock } from './advisory-lock.ts';
import {
  CheckpointMovedError,
  CheckpointOfAnotherLogError,
  readCheckpoint,
  resumePosition,
} from './checkpoints.ts';
import { liveTarget, type FoldedBatch, type ProjectionDefinition } from './definition.ts';
import type { EventFeed } from './event-feed.ts';
import { commitBatch, PoisonEventError } from './project-batch.ts';

export interface ProjectorDeps<Row, Folded extends FoldedBatch<Row>> {
  definition: ProjectionDefinition<Row, Folded>;
  pool: Pool;
  feed: EventFeed;
  /** Opens the dedicated connection that holds the projector's advisory lock. */
  connect: () => Promise<pg.Client>;
  logger: Logger;
  signal?: AbortSignal;
  maxBatch?: number;
}

export interface ProjectorStats {
  /** Whether this process holds the lock and projects (false: standing by). */
  active: boolean;
  /** How far the read model is: the position of its checkpoint. */
  position: LogPosition | null;
  batches: number;
  applied: number;
  alreadyApplied: number;
  unknown: number;
  /** Failures since the last committed batch: its retry backoff, and whether it is stuck. */
  failuresInARow: number;
}

export interface Projector {
  /**
   * Settles once stopped: resolves after stop() or the signal, rejects with PoisonEventError or
   * CheckpointOfAnotherLogError.
   */
  readonly done: Promise<void>;
  stats(): Readonly<ProjectorStats>;
  stop(): Promise<void>;
}

const defaultMaxBatch = 1000;
const maxRetryDelayMs = 5000;

/**
 * The `projector` role: keeps a projection's live table up to date with the log. One process at a
 * time projects it (holding an advisory lock); others wait as hot standbys. Failures of the database or
 * the feed are retried; a poison event, or a checkpoint in another event log, stops the projector
 * for good.
 */
export function startProjector<Row, Folded extends FoldedBatch<Row>>(
  deps: ProjectorDeps<Row, Folded>,
): Projector {
  const controller = new AbortController();
  const signal = deps.signal
    ? AbortSignal.any([deps.signal, controller.signal])
    : controller.signal;
  const stats: ProjectorStats = {
    active: false,
    position: null,
    batches: 0,
    applied: 0,
    alreadyApplied: 0,
    unknown: 0,
    failuresInARow: 0,
  };
  const done = run(deps, signal, stats);
  // The caller learns of a poison event through `done`; an unobserved one must not crash the API
  // process the projector shares in the embedded mode.
  // eslint-disable-next-line no-restricted-syntax -- reported through `done`
  done.catch(() => {});
  return {
    done,
    stats: () => ({ ...stats }),
    async stop() {
      controller.abort();
      // eslint-disable-next-line no-restricted-syntax -- a stop waits for the end; a failure is reported through `done`
      await done.catch(() => {});
    },
  };
}

async function run<Row, Folded extends FoldedBatch<Row>>(
  deps: ProjectorDeps<Row, Folded>,
  signal: AbortSignal,
  stats: ProjectorStats,
) {
  const { name } = deps.definition;
  const log = deps.logger.child({ projection: name });
  while (!signal.aborted) {
    const lock = await holdAdvisoryLock(deps.connect, `stowage:projection:${name}`, signal, () => {
      // Another projector goes on from here: this one's failures say nothing while it waits.
      stats.failuresInARow = 0;
      log.info('another projector is active; standing by');
    }).catch(async (error: unknown) => {
      stats.failuresInARow++;
      log.warn({ err: error }, 'could not take the projector lock; retrying');
      await sleep(retryDelay(stats.failuresInARow), signal);
      return null;
    });
    if (!lock) continue;
    stats.active = true;
    log.info('projector active');
    try {
      await follow(deps, AbortSignal.any([signal, lock.lost]), stats, log);
      if (!signal.aborted) log.warn('lost the projector lock; standing by');
      stats.failuresInARow = 0;
    } catch (error) {
      if (error instanceof PoisonEventError) {
        log.error(
          { event: { ...error.event, position: formatPosition(error.event.position) } },
          `${error.message}; projection stopped with its checkpoint just before it`,
        );
        throw error;
      }
      if (error instanceof CheckpointOfAnotherLogError) {
        log.error(error.message);
        throw error;
      }
      if (error instanceof CheckpointMovedError) {
        // A replay swapped in a rebuilt read model, or a projector that lost the lock committed
        // first: the stored checkpoint is the truth, so start over from it.
        log.info('checkpoint moved by another writer; resuming from it');
      } else if (!signal.aborted) {
        stats.failuresInARow++;
        const retryInMs = retryDelay(stats.failuresInARow);
        log.warn({ err: error, retryInMs }, 'projection failed; retrying');
        await sleep(retryInMs, signal);
      }
    } finally {
      stats.active = false;
      await lock.release();
    }
  }
}

async function follow<Row, Folded extends FoldedBatch<Row>>(
  deps: ProjectorDeps<Row, Folded>,
  signal: AbortSignal,
  stats: ProjectorStats,
  log: Logger,
): Promise<void> {
  const { definition } = deps;
  const target = liveTarget(definition);
  const eventLog = await deps.feed.logIdentity();
  let position = resumePosition(await readCheckpoint(deps.pool, target.checkpoint), eventLog);
  stats.position = position;
  await deps.feed.subscribe(
    definition.category,
    position,
    async (events) => {
      const run = { definition, target, from: position, log: eventLog };
      const folded = await commitBatch(deps.pool, run, events);
      position = folded.through;
      stats.position = position;
      stats.batches++;
      // Progress: a failure after it waits the shortest delay again, not the longest that
      // failures hours ago had built up to.
      stats.failuresInARow = 0;
      stats.applied += folded.applied;
      stats.alreadyApplied += folded.alreadyApplied;
      stats.unknown += folded.unknown;
      if (folded.unknown > 0) {
        log.warn(
          { skipped: folded.unknown, types: folded.unknownTypes, handled: definition.eventTypes },
          'skipped events of types this version does not know',
        );
      }
    },
    { signal, maxBatch: deps.maxBatch ?? defaultMaxBatch },
  );
}

function retryDelay(failures: number): number {
  return Math.min(100 * 2 ** failures, maxRetryDelayMs);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
