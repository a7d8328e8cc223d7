import type { RecordedEvent } from '../../event-sourcing/event-store.ts';

/** How the Postgres event store's rows read and map to recorded events. */
export interface EventRow {
  global_position: string;
  transaction_id: string;
  stream_name: string;
  stream_revision: string;
  event_id: string;
  event_type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recorded_at: Date;
}

export const eventColumns =
  'global_position, transaction_id::text AS transaction_id, stream_name, stream_revision, event_id, event_type, data, metadata, recorded_at';

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    stream: row.stream_name,
    revision: Number(row.stream_revision),
    position: [BigInt(row.transaction_id), BigInt(row.global_position)],
    recordedAt: row.recorded_at,
  };
}
