import type { LogPosition, RecordedEvent } from '../event-store.ts';

/**
 * A recorded event as a feed hands it over. A record the feed could not decode (not JSON, not an
 * object, a deleted stream's tombstone) still comes in its place in the log, with the reason in
 * `undecodable` and empty data: projections stop at it as a poison event.
 */
export interface FeedEvent extends RecordedEvent {
  undecodable?: string;
}

/**
 * Which log a feed reads: the store's kind and an identity of its log. Positions mean something
 * only within one log, so checkpoints record it.
 */
export interface LogIdentity {
  store: 'postgres' | 'eventstoredb' | 'in-memory';
  id: string;
}

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
    onBatch: (events: readonly FeedEvent[]) => Promise<void>,
    options: { signal: AbortSignal; maxBatch: number },
  ): Promise<void>;
  logIdentity(): Promise<LogIdentity>;
  /** When the category's first event after `after` was recorded; null when there is none yet. */
  firstRecordedAfter(category: string, after: LogPosition | null): Promise<Date | null>;
  /**
   * The time now by the clock that stamps `recordedAt`, which is the store's, not this
   * process's: the two can disagree by more than a replay's held-back events are old.
   */
  currentTime(): Promise<Date>;
}
