import type { Position, RecordedEvent as EsdbRecordedEvent } from '@eventstore/db-client';
import type { LogPosition } from '../../event-sourcing/event-store.ts';
import type { FeedEvent } from '../../event-sourcing/projection/event-feed.ts';

/**
 * An EventStoreDB record as the ports see it. What cannot be decoded (not JSON, JSON that is not
 * an object, a hard-deleted stream's tombstone) is marked undecodable, never thrown: in a feed it
 * must reach the projection as a poison event at its position, or the subscription would fail
 * and be retried from the same checkpoint for ever.
 */
export function decodeRecord(event: EsdbRecordedEvent): FeedEvent {
  const where = `event ${event.id} of ${event.streamId}`;
  const recorded = {
    id: event.id,
    type: event.type,
    stream: event.streamId,
    revision: Number(event.revision),
    position: toLogPosition(event.position, where),
    recordedAt: event.created,
  };
  const undecodable = problemOf(event);
  if (undecodable) return { ...recorded, data: {}, metadata: {}, undecodable };
  return {
    ...recorded,
    data: event.data as Record<string, unknown>,
    metadata: (event.metadata ?? {}) as Record<string, unknown>,
  };
}

function problemOf(event: EsdbRecordedEvent): string | undefined {
  if (event.type === '$streamDeleted') return 'the tombstone of a deleted stream';
  if (!event.isJson) return 'not JSON';
  if (!isJsonObject(event.data)) return 'its data is not a JSON object';
  if (event.metadata !== undefined && !isJsonObject(event.metadata)) {
    return 'its metadata is not a JSON object';
  }
  return undefined;
}

// The client hands over malformed JSON data as the string it got, and metadata as bytes.
function isJsonObject(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  );
}

export function toLogPosition(position: Position | undefined, of: string): LogPosition {
  if (!position)
    throw new Error(`EventStoreDB reported no position for ${of} (server older than 22.6?)`);
  return [position.commit, position.prepare];
}
