import type { LogPosition } from '../event-store.ts';
import type { EventFeed, FeedEvent } from './event-feed.ts';

/**
 * Subscribes from `from` and hands each batch to `step` until it answers false, or, given
 * `idleMs`, until no batch arrived for that long.
 */
export async function readAlong(
  feed: EventFeed,
  category: string,
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
      category,
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
