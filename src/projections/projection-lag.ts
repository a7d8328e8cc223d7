import { instanceStreamCategory } from '../domain/s3-config.ts';
import type { Pool } from '../infra/postgres/pool.ts';
import { readCheckpointIfIn } from './checkpoints.ts';
import type { EventFeed, LogIdentity } from './event-feed.ts';
import { liveProjection } from './project-batch.ts';

/**
 * Seconds the read model is behind the event log, whatever the store: the age of the first event
 * after the live checkpoint (0 when there is none). A checkpoint in another log counts as none:
 * the whole log is then unapplied.
 */
export function projectionLagSeconds(pool: Pool, feed: EventFeed): () => Promise<number> {
  let log: LogIdentity | undefined;
  return async () => {
    log ??= await feed.logIdentity();
    const checkpoint = await readCheckpointIfIn(pool, liveProjection.checkpoint, log);
    const oldest = await feed.firstRecordedAfter(instanceStreamCategory, checkpoint);
    return oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0;
  };
}
