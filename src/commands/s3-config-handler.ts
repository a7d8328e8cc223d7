import { randomUUID } from 'node:crypto';
import {
  decide,
  evolve,
  initialState,
  instanceStream,
  needsSealing,
  S3ConfigRejected,
  type Actor,
  type S3ConfigCommand,
  type S3ConfigState,
  type S3Settings,
  type SubmittedSecret,
} from '../domain/s3-config.ts';
import { toS3ConfigEvent } from '../domain/s3-config-events.ts';
import { sealSecret } from '../infra/secrets/secret-envelope.ts';
import { macOf, toBase64Url } from '../infra/sealing.ts';
import {
  StreamConflictError,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from './event-store.ts';
import type { InstanceKey, InstanceKeyring } from './instance-keyring.ts';
import { BoundedMap } from './bounded-map.ts';
import { KeyedMutex } from './keyed-mutex.ts';

export type S3ConfigRequest =
  { enabled: true; settings: S3Settings; secretKey?: string } | { enabled: false };

export interface S3ConfigChange {
  instance: string;
  request: S3ConfigRequest;
  actor: Actor;
  /** From If-Match. */
  expectedRevision?: number;
  requestId: string;
}

export interface S3ConfigOutcome {
  state: S3ConfigState;
  /** Position of the appended event; absent when nothing needed to change. */
  position?: LogPosition;
}

/** Appends lost to another process's append on the same instance, in a row, before giving up. */
export class ConcurrentChangeError extends Error {}

interface HandlerDeps {
  eventStore: EventStore;
  keyring: InstanceKeyring;
  onKeyDestroyFailed?: (error: unknown, keyId: string) => void;
  now?: () => Date;
  maxAttempts?: number;
}

/**
 * The command handler: fold the instance's stream, decide, append at the revision it was folded
 * at; on a conflict, all over again. Changes to one instance are queued within this process, so
 * only other processes can cause conflicts.
 *
 * Folded states are kept in memory. A change decided on a kept state is appended at once: the
 * expected revision makes the store refuse it if the state was stale. A decision that appends
 * nothing (a repeat) or refuses the command proves nothing about staleness, so it is made again
 * on the state brought up to date by reading the stream's tail first.
 */
export function createS3ConfigHandler({
  eventStore,
  keyring,
  onKeyDestroyFailed = () => {},
  now = () => new Date(),
  maxAttempts = 10,
}: HandlerDeps) {
  const perInstance = new KeyedMutex();
  const folded = new BoundedMap<string, S3ConfigState>(foldedStreamsKept);

  async function upToDate(stream: string, known: S3ConfigState | undefined) {
    const from = known?.revision == null ? 0 : known.revision + 1;
    const state = foldS3Config(await eventStore.readStream(stream, from), known);
    folded.set(stream, state);
    return state;
  }

  async function attempt(change: S3ConfigChange): Promise<S3ConfigOutcome> {
    const stream = instanceStream(change.instance);
    const kept = folded.get(stream);
    if (kept) {
      const outcome = await decideAndAppend(change, stream, kept, 'unverified');
      if (outcome) return outcome;
    }
    return (await decideAndAppend(change, stream, await upToDate(stream, kept), 'current'))!;
  }

  /** Undefined when an unverified state led to no append or to a refusal. */
  async function decideAndAppend(
    change: S3ConfigChange,
    stream: string,
    state: S3ConfigState,
    freshness: 'current' | 'unverified',
  ): Promise<S3ConfigOutcome | undefined> {
    const nextRevision = state.revision === null ? 0 : state.revision + 1;
    const keys = keyResolver(keyring, change.instance, state);
    let appending = false;
    try {
      const command = await toCommand(change, state, nextRevision, () => keys.resolve(), now());
      let events;
      try {
        events = decide(command, state);
      } catch (error) {
        if (freshness === 'unverified' && error instanceof S3ConfigRejected) {
          await keys.discardCreated();
          return undefined;
        }
        throw error;
      }
      if (events.length === 0) {
        await keys.discardCreated();
        return freshness === 'current' ? { state } : undefined;
      }
      appending = true;
      const appended = await eventStore.appendToStream(
        stream,
        events.map((event) => ({
          id: randomUUID(),
          type: event.type,
          data: event.data as unknown as Record<string, unknown>,
          metadata: { requestId: change.requestId, correlationId: change.requestId },
        })),
        state.revision ?? 'no_stream',
      );
      const after = events.reduce(evolve, state);
      folded.set(stream, after);
      for (const event of events) {
        if (event.type === 'S3ConfigDisabled') {
          // After the append, never before: a failed append must leave the key usable. Should
          // this fail, the projection destroys the key when it applies the event.
          await keyring
            .destroy(event.data.keyId)
            .catch((error: unknown) => onKeyDestroyFailed(error, event.data.keyId));
        }
      }
      return { state: after, position: appended.position };
    } catch (error) {
      if (error instanceof StreamConflictError) folded.delete(stream);
      // Any failed append but a conflict may have committed: keep the key, collect it later.
      if (!appending || error instanceof StreamConflictError) await keys.discardCreated();
      throw error;
    }
  }

  return async function handle(change: S3ConfigChange): Promise<S3ConfigOutcome> {
    return perInstance.run(change.instance, async () => {
      for (let attemptNo = 1; ; attemptNo++) {
        try {
          return await attempt(change);
        } catch (error) {
          if (!(error instanceof StreamConflictError)) throw error;
          if (attemptNo >= maxAttempts) throw new ConcurrentChangeError(error.message);
          await sleep(Math.random() * 5 * attemptNo);
        }
      }
    });
  };
}

// A folded state is a few hundred bytes; this bounds the cache to some megabytes.
const foldedStreamsKept = 50_000;

export function foldS3Config(
  events: readonly RecordedEvent[],
  from: S3ConfigState = initialState,
): S3ConfigState {
  let state = from;
  for (const recorded of events) {
    const event = toS3ConfigEvent(recorded.type, recorded.data);
    // Revisions still advance past events this version does not know.
    state = event ? evolve(state, event) : { ...state, revision: recorded.revision };
  }
  return state;
}

async function toCommand(
  change: S3ConfigChange,
  state: S3ConfigState,
  nextRevision: number,
  resolveKey: () => Promise<InstanceKey>,
  at: Date,
): Promise<S3ConfigCommand> {
  const common = {
    instance: change.instance,
    actor: change.actor,
    at: at.toISOString(),
    ...(change.expectedRevision === undefined ? {} : { expectedRevision: change.expectedRevision }),
  };
  const { request } = change;
  if (!request.enabled) return { type: 'DisableS3', ...common };
  const secret =
    request.secretKey === undefined
      ? undefined
      : await submitSecret(request.secretKey, change.instance, state, nextRevision, resolveKey);
  return {
    type: 'ConfigureS3',
    ...common,
    settings: request.settings,
    ...(secret ? { secret } : {}),
  };
}

/** The keyed digest always; the 275 µs seal only when the secret differs from the stored one. */
async function submitSecret(
  secretKey: string,
  instance: string,
  state: S3ConfigState,
  revision: number,
  resolveKey: () => Promise<InstanceKey>,
): Promise<SubmittedSecret> {
  const key = await resolveKey();
  const mac = toBase64Url(macOf(key.macKey, Buffer.from(secretKey, 'utf8')));
  const submitted = { keyId: key.id, mac };
  if (!needsSealing(submitted, state)) return submitted;
  const ciphertext = sealSecret(secretKey, { instance, revision, keyId: key.id }, key.publicKey);
  return { ...submitted, ciphertext };
}

/**
 * The key material a secret is sealed to: the enablement's own while enabled, a fresh one when
 * enabling. A fresh key that ends up unused is discarded.
 */
function keyResolver(keyring: InstanceKeyring, instance: string, state: S3ConfigState) {
  let created: InstanceKey | undefined;
  return {
    async resolve(): Promise<InstanceKey> {
      if (state.status === 'enabled') {
        const current = await keyring.find(state.secret.keyId);
        if (current) return current;
      }
      created ??= await keyring.create(instance);
      return created;
    },
    async discardCreated(): Promise<void> {
      // eslint-disable-next-line no-restricted-syntax -- an unused key left behind is removed by the unreferenced-key collector
      if (created) await keyring.discard(created.id).catch(() => {});
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
