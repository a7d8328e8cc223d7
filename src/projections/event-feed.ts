import type { LogPosition, RecordedEvent } from '../commands/event-store.ts';

/**
 * What a projection needs of the event store: every event of a stream category in log order,
 * from just after a checkpoint, never skipping one, first the history and then live events.
 */
export interface EventFeed {
  /**
   * Calls `onBatch` with consecutive batches (at most `maxBatch` events each), awaiting each
   * before the next. Resolves once `signal` aborts; rejects when reading or `onBatch` fails.
   */
  subscribe(
    category: string,
    after: LogPosition | null,
    onBatch: (events: readonly RecordedEvent[]) => Promise<void>,
    options: { signal: AbortSignal; maxBatch: number },
  ): Promise<void>;
}
