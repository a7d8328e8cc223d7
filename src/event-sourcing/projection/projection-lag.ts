import type { Pool } from '../../infra/postgres/pool.ts';
import { positionIn, readCheckpoint } from './checkpoints.ts';
import type { ProjectionDefinition } from './definition.ts';
import type { EventFeed, LogIdentity } from './event-feed.ts';

/**
 * Seconds a projection's live table is behind the event log, whatever the store: the age of the
 * first event of its category after its checkpoint (0 when there is none). A checkpoint in another
 * log counts as none: the whole log is then unapplied.
 */
export function projectionLagSeconds(
  pool: Pool,
  feed: EventFeed,
  projection: Pick<ProjectionDefinition<unknown>, 'name' | 'category'>,
): () => Promise<number> {
  let log: LogIdentity | undefined;
  return async () => {
    log ??= await feed.logIdentity();
    const position = positionIn(await readCheckpoint(pool, projection.name), log);
    const oldest = await feed.firstRecordedAfter(projection.category, position);
    return oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0;
  };
}
