import {
  evolve,
  initialState,
  type S3ConfigEvent,
  type S3ConfigState,
} from '../domain/s3-config.ts';
import { toS3ConfigEvent } from '../domain/s3-config-events.ts';
import { foldStream, type StoredEvents } from '../event-sourcing/command-handler.ts';
import type { RecordedEvent } from '../event-sourcing/event-store.ts';

/** The S3 config decider's events as an instance's stream stores them. */
export const s3ConfigEvents: StoredEvents<S3ConfigState, S3ConfigEvent> = {
  toStored: (event) => ({
    type: event.type,
    data: event.data as unknown as Record<string, unknown>,
  }),
  fromStored: (recorded) => toS3ConfigEvent(recorded.type, recorded.data),
  // Revisions still advance past events this version does not know.
  passUnknown: (state, recorded) => ({ ...state, revision: recorded.revision }),
};

export function foldS3Config(
  events: readonly RecordedEvent[],
  from: S3ConfigState = initialState,
): S3ConfigState {
  return foldStream(evolve, s3ConfigEvents, events, { state: from, revision: from.revision }).state;
}
