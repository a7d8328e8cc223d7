import {
  decide,
  evolve,
  initialState,
  instanceStream,
  S3ConfigRejectedError,
  type S3ConfigState,
} from '../domain/s3-config.ts';
import { createCommandHandler } from '../event-sourcing/command-handler.ts';
import type { EventStore, LogPosition } from '../event-sourcing/event-store.ts';
import type { InstanceKeyring } from './instance-keyring.ts';
import { s3ConfigEvents } from './s3-config-stream.ts';
import { prepareUpdateS3Config, type UpdateS3Config } from './update-s3-config.preparation.ts';

export interface S3ConfigOutcome {
  state: S3ConfigState;
  /** Position of the appended event; absent when nothing needed to change. */
  position?: LogPosition;
}

interface HandlerDeps {
  eventStore: EventStore;
  keyring: InstanceKeyring;
  onKeyShredFailed?: (error: unknown, keyId: string) => void;
}

/** Carries out UpdateS3Config on the instance's stream with the generic command handler. */
export function createUpdateS3ConfigHandler({
  eventStore,
  keyring,
  onKeyShredFailed = () => {},
}: HandlerDeps) {
  const handle = createCommandHandler({
    eventStore,
    decider: { decide, evolve, initialState },
    stored: s3ConfigEvents,
    isRejection: (error) => error instanceof S3ConfigRejectedError,
  });
  const preparation = { keyring, onKeyShredFailed, now: () => new Date() };
  return async function handleUpdateS3Config(update: UpdateS3Config): Promise<S3ConfigOutcome> {
    const { state, position } = await handle(instanceStream(update.instance), {
      prepare: prepareUpdateS3Config(preparation, update),
      metadata: { requestId: update.requestId, correlationId: update.requestId },
    });
    return position ? { state, position } : { state };
  };
}
