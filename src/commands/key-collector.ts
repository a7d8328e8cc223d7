import { instanceStream } from '../domain/s3-config.ts';
import type { EventStore } from '../event-sourcing/event-store.ts';
import { foldS3Config } from './s3-config-stream.ts';

/** Instance keys that may be unreferenced, as the key store finds them. */
export interface UnreferencedKeyStore {
  /**
   * Keys created more than `graceMs` ago that the read model does not name as an instance's
   * secret key (it may lag: the event log decides).
   */
  candidates(graceMs: number): Promise<{ keyId: string; instance: string }[]>;
  /** Deletes the key, announcing it, if it is still older than `graceMs`. */
  collect(keyId: string, graceMs: number): Promise<void>;
}

export interface CollectedKeys {
  collected: number;
  /** Candidates the event log still names. */
  kept: number;
}

/**
 * Deletes instance keys that no event refers to: left by appends whose outcome was unknown
 * (the handler keeps those keys, as the event may exist). A key is collected only when the
 * instance's stream, folded now, does not hold it as the enabled secret's key, and it is older
 * than the grace period: only the request that created a key appends an event newly naming it
 * (later ones reuse the stream's key), so a grace period far above any request's lifetime rules
 * out collecting a key whose append is still in flight.
 */
export async function collectUnreferencedKeys(deps: {
  store: UnreferencedKeyStore;
  eventStore: Pick<EventStore, 'readStream'>;
  graceMs: number;
}): Promise<CollectedKeys> {
  const { store, eventStore, graceMs } = deps;
  const result = { collected: 0, kept: 0 };
  for (const { keyId, instance } of await store.candidates(graceMs)) {
    const state = foldS3Config(await eventStore.readStream(instanceStream(instance)));
    if (state.status === 'enabled' && state.secret.keyId === keyId) {
      result.kept++;
      continue;
    }
    await store.collect(keyId, graceMs);
    result.collected++;
  }
  return result;
}
