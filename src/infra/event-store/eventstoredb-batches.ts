import type { Readable } from 'node:stream';
import type { RecordedEvent as EsdbRecordedEvent } from '@eventstore/db-client';
import { comparePositions, type LogPosition } from '../../event-sourcing/event-store.ts';
import type { FeedEvent } from '../../event-sourcing/projection/event-feed.ts';

export interface BatchOptions {
  signal: AbortSignal;
  maxBatch: number;
  /** Exclusive start: records at or before it are dropped. */
  after: LogPosition | null;
  /**
   * How long a short batch may wait for more records to fill it while the subscription has not
   * said it caught up: history arrives in bursts, and a batch cut at whatever one burst brought
   * would be far below maxBatch (replay takes a short batch as the end of the history).
   */
  lingerMs: number;
}

/**
 * Reads a subscription (an object-mode stream of resolved events, as the client's subscriptions
 * are) in paused mode and hands `onBatch` consecutive batches of at most `maxBatch` decoded
 * events. While onBatch runs nothing is taken, so the stream's buffer fills to its high-water mark
 * and flow control holds the server back; that mark must be at least maxBatch for full batches.
 * Once the subscription has caught up ('caughtUp'), a batch goes out as soon as it has an event.
 */
export async function readInBatches(
  subscription: Readable,
  decode: (event: EsdbRecordedEvent) => FeedEvent,
  onBatch: (events: readonly FeedEvent[]) => Promise<void>,
  { signal, maxBatch, after, lingerMs }: BatchOptions,
): Promise<void> {
  let failure: Error | undefined;
  let live = false;
  let wake: (() => void) | undefined;
  const wakeUp = () => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  const listeners: [string, (error?: Error) => void][] = [
    ['readable', wakeUp],
    ['caughtUp', () => ((live = true), wakeUp())],
    ['fellBehind', () => (live = false)],
    ['error', (error) => ((failure ??= error), wakeUp())],
    ['end', () => ((failure ??= new Error('the subscription ended by itself')), wakeUp())],
  ];
  for (const [name, listener] of listeners) subscription.on(name, listener);
  signal.addEventListener('abort', wakeUp);
  try {
    let checkpoint = after;
    let batch: FeedEvent[] = [];
    let lingerUntil = 0;
    while (!signal.aborted) {
      if (failure) throw failure;
      let resolved: { event?: EsdbRecordedEvent } | null;
      while (batch.length < maxBatch && (resolved = subscription.read() as typeof resolved)) {
        if (!resolved.event) continue;
        const event = decode(resolved.event);
        // Starting from a position is exclusive on current servers; this keeps an older one
        // from handing over the checkpoint's own event again.
        if (checkpoint && comparePositions(event.position, checkpoint) <= 0) continue;
        if (batch.length === 0) lingerUntil = Date.now() + lingerMs;
        batch.push(event);
        checkpoint = event.position;
      }
      const lingered = Date.now() >= lingerUntil;
      if (batch.length === maxBatch || (batch.length > 0 && (live || lingered))) {
        await onBatch(batch);
        batch = [];
        continue;
      }
      // A read that returned null makes the stream emit 'readable' on the next record, and
      // nothing can fire between that read and setting `wake` here.
      await new Promise<void>((resolve) => {
        const timer =
          batch.length > 0 ? setTimeout(wakeUp, Math.max(0, lingerUntil - Date.now())) : undefined;
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    signal.removeEventListener('abort', wakeUp);
    for (const [name, listener] of listeners) subscription.off(name, listener);
  }
}
