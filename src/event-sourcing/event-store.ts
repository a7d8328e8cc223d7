import { StowageError } from '../shared/errors.ts';
/**
 * The event store as the command side needs it: read one stream, append to it if nobody else
 * did in between. Projections read through the feed port (event-sourcing/projection/event-feed.ts).
 */
export interface EventStore {
  /**
   * The stream's events from `fromRevision` on (all of them by default), at most `maxCount` of
   * them when given; [] when there are none.
   */
  readStream(stream: string, fromRevision?: number, maxCount?: number): Promise<RecordedEvent[]>;
  /** Appends atomically; rejects with StreamConflictError when the stream is not at `expected`. */
  appendToStream(
    stream: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult>;
}

/** Revisions count from 0 within a stream, as EventStoreDB does. */
export type ExpectedRevision = number | 'no_stream';

export interface NewEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export interface RecordedEvent extends NewEvent {
  stream: string;
  revision: number;
  position: LogPosition;
  recordedAt: Date;
}

export interface AppendResult {
  /** Revision of the last appended event. */
  revision: number;
  /** Log position of the last appended event. */
  position: LogPosition;
}

/**
 * A place in the store's global order, compared part by part: EventStoreDB's commit/prepare
 * positions, or the Postgres store's (transaction id, sequence number).
 */
export type LogPosition = readonly [bigint, bigint];

export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

export function formatPosition(position: LogPosition): string {
  return `${position[0]}-${position[1]}`;
}

export function parsePosition(text: string): LogPosition | undefined {
  const match = /^(\d{1,20})-(\d{1,20})$/.exec(text);
  return match ? [BigInt(match[1]!), BigInt(match[2]!)] : undefined;
}

export class StreamConflictError extends StowageError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
  ) {
    super('stream-conflict', `stream ${stream} is not at the expected revision ${expected}`);
  }
}
