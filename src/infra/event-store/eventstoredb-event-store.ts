import {
  EventStoreDBClient,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type Position,
  type RecordedEvent as EsdbRecordedEvent,
} from '@eventstore/db-client';
import {
  StreamConflictError,
  comparePositions,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type LogPosition,
  type NewEvent,
  type RecordedEvent,
} from '../../commands/event-store.ts';
import type { EventFeed } from '../../projections/event-feed.ts';

/**
 * Event store on EventStoreDB (server 22.6 or later, which reports every event's log position).
 * Stream categories are stream-name prefixes, matched on the server by a $all filter.
 */
export class EventStoreDbEventStore implements EventStore, EventFeed {
  private readonly client: EventStoreDBClient;

  constructor(connectionString: string) {
    this.client = EventStoreDBClient.connectionString(connectionString);
  }

  async readStream(stream: string, fromRevision = 0): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, { fromRevision: BigInt(fromRevision) });
      for await (const resolved of read) {
        if (resolved.event) events.push(toRecordedEvent(resolved.event));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  async appendToStream(
    stream: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    let result;
    try {
      result = await this.client.appendToStream(
        stream,
        events.map(({ id, type, data, metadata }) => jsonEvent({ id, type, data, metadata })),
        { expectedRevision: expected === 'no_stream' ? NO_STREAM : BigInt(expected) },
      );
    } catch (error) {
      if (error instanceof WrongExpectedVersionError)
        throw new StreamConflictError(stream, expected);
      throw error;
    }
    // A connection string with throwOnAppendFailure=false reports the conflict instead of throwing.
    if (!result.success) throw new StreamConflictError(stream, expected);
    return {
      revision: Number(result.nextExpectedRevision),
      position: toLogPosition(result.position, `the append to ${stream}`),
    };
  }

  async subscribe(
    category: string,
    after: LogPosition | null,
    onBatch: (events: readonly RecordedEvent[]) => Promise<void>,
    { signal, maxBatch }: { signal: AbortSignal; maxBatch: number },
  ): Promise<void> {
    if (signal.aborted) return;
    const subscription = this.client.subscribeToAll({
      fromPosition: after ? { commit: after[0], prepare: after[1] } : START,
      filter: streamNameFilter({ prefixes: [category] }),
    });
    // The subscription is read in paused mode: whatever it has buffered makes the next batch, and
    // while onBatch runs nothing is taken, so the client's buffer fills and gRPC flow control
    // holds the server back.
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      const waiting = wake;
      wake = undefined;
      waiting?.();
    };
    subscription.on('readable', wakeUp);
    subscription.on('error', (error: Error) => {
      failure ??= error;
      wakeUp();
    });
    subscription.on('end', () => {
      failure ??= new Error(`the EventStoreDB subscription to ${category} ended by itself`);
      wakeUp();
    });
    signal.addEventListener('abort', wakeUp);
    try {
      let checkpoint = after;
      while (!signal.aborted) {
        if (failure) throw failure;
        const batch: RecordedEvent[] = [];
        let resolved: AllStreamResolvedEvent | null;
        while (batch.length < maxBatch && (resolved = subscription.read()) !== null) {
          if (!resolved.event) continue;
          const event = toRecordedEvent(resolved.event);
          // Starting from a position is exclusive on current servers; this keeps an older one
          // from handing over the checkpoint's own event again.
          if (checkpoint && comparePositions(event.position, checkpoint) <= 0) continue;
          batch.push(event);
          checkpoint = event.position;
        }
        if (batch.length > 0) {
          await onBatch(batch);
          continue;
        }
        // Nothing buffered: a read that returned null makes the stream emit 'readable' on the
        // next event, and nothing can fire between that read and setting `wake` here.
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      signal.removeEventListener('abort', wakeUp);
      // Unsubscribing fails when the stream never opened; that failure was already reported.
      await subscription.unsubscribe().catch(() => {});
      subscription.destroy();
    }
  }

  close(): Promise<void> {
    return this.client.dispose();
  }
}

function toRecordedEvent(event: EsdbRecordedEvent): RecordedEvent {
  const where = `event ${event.id} of ${event.streamId}`;
  if (!event.isJson) throw new Error(`${where} is not JSON`);
  return {
    id: event.id,
    type: event.type,
    data: asJsonObject(event.data, `the data of ${where}`),
    metadata:
      event.metadata === undefined ? {} : asJsonObject(event.metadata, `the metadata of ${where}`),
    stream: event.streamId,
    revision: Number(event.revision),
    position: toLogPosition(event.position, where),
    recordedAt: event.created,
  };
}

function toLogPosition(position: Position | undefined, of: string): LogPosition {
  if (!position)
    throw new Error(`EventStoreDB reported no position for ${of} (server older than 22.6?)`);
  return [position.commit, position.prepare];
}

function asJsonObject(value: unknown, what: string): Record<string, unknown> {
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Uint8Array
  ) {
    throw new Error(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}
