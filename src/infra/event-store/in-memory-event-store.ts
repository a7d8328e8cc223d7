import { randomUUID } from 'node:crypto';
import {
  StreamConflictError,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from '../../event-sourcing/event-store.ts';
import type { EventFeed, LogIdentity } from '../../event-sourcing/projection/event-feed.ts';

/** An event as kept: data and metadata as JSON text, so that every read hands out fresh copies. */
interface StoredEvent {
  id: string;
  type: string;
  data: string;
  metadata: string;
  stream: string;
  revision: number;
  position: LogPosition;
  recordedAt: Date;
}

/**
 * The event store in this process's memory, for tests of what runs above the store. It keeps the
 * same promises as the real adapters (the event-store contract suite checks them): appends are
 * atomic and refused at a wrong expected revision, events come back as JSON round-trips them,
 * and the feed delivers a category in log order, history then live.
 */
export class InMemoryEventStore implements EventStore, EventFeed {
  private readonly log: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly identity: LogIdentity = { store: 'in-memory', id: randomUUID() };
  /** Subscriptions waiting for the next append. */
  private waiting = new Set<() => void>();

  async readStream(stream: string, fromRevision = 0, maxCount?: number): Promise<RecordedEvent[]> {
    const end = maxCount === undefined ? undefined : fromRevision + maxCount;
    return (this.streams.get(stream) ?? []).slice(fromRevision, end).map(toRecordedEvent);
  }

  // Typed by the ports (as properties, so the parameters need not be spelt out again).
  readonly appendToStream: EventStore['appendToStream'] = async (stream, events, expected) => {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    const existing = this.streams.get(stream) ?? [];
    const current = existing.length === 0 ? 'no_stream' : existing.length - 1;
    if (current !== expected) throw new StreamConflictError(stream, expected);
    const recordedAt = new Date();
    for (const event of events) {
      const stored: StoredEvent = {
        id: event.id,
        type: event.type,
        data: JSON.stringify(event.data),
        metadata: JSON.stringify(event.metadata),
        stream,
        revision: existing.length,
        position: [BigInt(this.log.length + 1), 0n],
        recordedAt,
      };
      existing.push(stored);
      this.log.push(stored);
    }
    this.streams.set(stream, existing);
    this.wakeSubscriptions();
    const last = existing[existing.length - 1]!;
    return { revision: last.revision, position: last.position };
  };

  readonly subscribe: EventFeed['subscribe'] = async (
    category,
    after,
    onBatch,
    { signal, maxBatch },
  ) => {
    let checkpoint = after;
    while (!signal.aborted) {
      const batch = this.categoryAfter(category, checkpoint, maxBatch);
      if (batch.length > 0) {
        await onBatch(batch.map(toRecordedEvent));
        checkpoint = batch[batch.length - 1]!.position;
      } else {
        await this.nextAppend(signal);
      }
    }
  };

  async logIdentity(): Promise<LogIdentity> {
    return this.identity;
  }

  async firstRecordedAfter(category: string, after: LogPosition | null): Promise<Date | null> {
    return this.categoryAfter(category, after, 1)[0]?.recordedAt ?? null;
  }

  async currentTime(): Promise<Date> {
    return new Date();
  }

  private categoryAfter(category: string, after: LogPosition | null, limit: number) {
    // Positions number the log from 1, so the event after position n is at index n.
    const found: StoredEvent[] = [];
    for (let index = after === null ? 0 : Number(after[0]); index < this.log.length; index++) {
      const event = this.log[index]!;
      if (event.stream.startsWith(category)) found.push(event);
      if (found.length === limit) break;
    }
    return found;
  }

  /** Resolves on the next append, or when `signal` aborts. */
  private nextAppend(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.waiting.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiting.add(wake);
      signal.addEventListener('abort', wake);
    });
  }

  private wakeSubscriptions(): void {
    const waiting = this.waiting;
    this.waiting = new Set();
    for (const wake of waiting) wake();
  }
}

function toRecordedEvent(stored: StoredEvent): RecordedEvent {
  return {
    id: stored.id,
    type: stored.type,
    data: JSON.parse(stored.data) as Record<string, unknown>,
    metadata: JSON.parse(stored.metadata) as Record<string, unknown>,
    stream: stored.stream,
    revision: stored.revision,
    position: stored.position,
    recordedAt: new Date(stored.recordedAt),
  };
}
