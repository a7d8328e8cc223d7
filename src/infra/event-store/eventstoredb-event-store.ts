import { randomUUID } from 'node:crypto';
import {
  EventStoreDBClient,
  NO_STREAM,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
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
} from '../../event-sourcing/event-store.ts';
import type {
  EventFeed,
  FeedEvent,
  LogIdentity,
} from '../../event-sourcing/projection/event-feed.ts';
import { readInBatches } from './eventstoredb-batches.ts';
import { clientConnectionString } from './eventstoredb-connection-string.ts';
import { decodeRecord, toLogPosition } from './eventstoredb-records.ts';

/** A short batch waits this long for more history before it goes out (see readInBatches). */
const lingerMs = 20;
/** Holds one event whose id names this EventStoreDB cluster's log (see logIdentity). */
const identityStream = 'stowage-log-identity';
/** How long firstRecordedAfter waits for the server's word that nothing more is there. */
const catchUpDeadlineMs = 2000;

/**
 * Event store on EventStoreDB (server 22.6 or later, which reports every event's log position).
 * Stream categories are stream-name prefixes, matched on the server by a $all filter.
 */
export class EventStoreDbEventStore implements EventStore, EventFeed {
  private readonly client: EventStoreDBClient;

  constructor(connectionString: string) {
    this.client = EventStoreDBClient.connectionString(clientConnectionString(connectionString));
  }

  async readStream(stream: string, fromRevision = 0, maxCount?: number): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        fromRevision: BigInt(fromRevision),
        ...(maxCount === undefined ? {} : { maxCount: BigInt(maxCount) }),
      });
      for await (const resolved of read) {
        if (!resolved.event) continue;
        const event = decodeRecord(resolved.event);
        if (event.undecodable) {
          throw new Error(`event ${event.id} of ${stream} cannot be read: ${event.undecodable}`);
        }
        events.push(event);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  /**
   * The result's position is the last appended event's, as the port promises: the server's reply
   * to an append is not documented to be that event's position when there are several, so a
   * multi-event append reads its last event back (one more round trip; the command side appends
   * one event at a time).
   */
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
    const revision = Number(result.nextExpectedRevision);
    if (events.length === 1) {
      return { revision, position: toLogPosition(result.position, `the append to ${stream}`) };
    }
    const [last] = await this.readStream(stream, revision);
    if (!last) throw new Error(`the event just appended to ${stream} could not be read back`);
    return { revision, position: last.position };
  }

  async subscribe(
    category: string,
    after: LogPosition | null,
    onBatch: (events: readonly FeedEvent[]) => Promise<void>,
    { signal, maxBatch }: { signal: AbortSignal; maxBatch: number },
  ): Promise<void> {
    if (signal.aborted) return;
    const subscription = this.subscribeToCategory(category, after, maxBatch);
    try {
      await readInBatches(subscription, decodeRecord, onBatch, {
        signal,
        maxBatch,
        after,
        lingerMs,
      });
    } finally {
      await closeSubscription(subscription);
    }
  }

  /** The subscription buffers up to `highWaterMark` events, so batches can fill. */
  subscribeToCategory(
    category: string,
    after: LogPosition | null,
    highWaterMark: number,
  ): AllStreamSubscription {
    return this.client.subscribeToAll(
      {
        fromPosition: after ? { commit: after[0], prepare: after[1] } : START,
        filter: streamNameFilter({ prefixes: [category] }),
      },
      { highWaterMark },
    );
  }

  /**
   * The id of the first event of a stream kept for this: written once per cluster, so it differs
   * between clusters, survives scavenges and backups, and needs no access to system streams.
   */
  logIdentity(): Promise<LogIdentity> {
    this.identity ??= this.readOrWriteIdentity().catch((error: unknown) => {
      this.identity = undefined;
      throw error;
    });
    return this.identity;
  }

  private identity: Promise<LogIdentity> | undefined;

  private async readOrWriteIdentity(): Promise<LogIdentity> {
    const [written] = await this.readStream(identityStream);
    if (written) return { store: 'eventstoredb', id: written.id };
    const event = { id: randomUUID(), type: 'StowageLogNamed', data: {}, metadata: {} };
    try {
      await this.appendToStream(identityStream, [event], 'no_stream');
    } catch (error) {
      // Another process named the log first; its event is the one that counts.
      if (!(error instanceof StreamConflictError)) throw error;
    }
    const [first] = await this.readStream(identityStream);
    if (!first) throw new Error(`${identityStream} is empty right after it was written`);
    return { store: 'eventstoredb', id: first.id };
  }

  /**
   * A filtered subscription from `after`: its first event, or nothing once the server says it
   * caught up. $all cannot be read with a server-side filter by this client, and reading it
   * unfiltered could mean scanning every system event written since.
   */
  async firstRecordedAfter(category: string, after: LogPosition | null): Promise<Date | null> {
    const subscription = this.subscribeToCategory(category, after, 1);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Date | null>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error('EventStoreDB did not say the subscription caught up')),
          catchUpDeadlineMs,
        );
        subscription.once('caughtUp', () => resolve(null));
        subscription.once('error', reject);
        subscription.on('data', (resolved: AllStreamResolvedEvent) => {
          if (!resolved.event) return;
          const event = decodeRecord(resolved.event);
          if (!after || comparePositions(event.position, after) > 0) resolve(event.recordedAt);
        });
      });
    } finally {
      clearTimeout(timer);
      await closeSubscription(subscription);
    }
  }

  /**
   * The server stamps events by its own clock and offers no way to read it. This process's clock
   * does no harm here: a read of $all holds nothing back, so a replay never waits on this time.
   */
  async currentTime(): Promise<Date> {
    return new Date();
  }

  close(): Promise<void> {
    return this.client.dispose();
  }
}

async function closeSubscription(subscription: AllStreamSubscription): Promise<void> {
  // Unsubscribing fails when the stream never opened (that failure was already reported), and
  // a late error must not go unhandled.
  subscription.on('error', () => {});
  // eslint-disable-next-line no-restricted-syntax -- see the comment above
  await subscription.unsubscribe().catch(() => {});
  subscription.destroy();
}
