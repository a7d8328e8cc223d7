import { randomUUID } from 'node:crypto';
import type { EventStore, LogPosition, NewEvent } from '../../../src/event-sourcing/event-store.ts';
import { comparePositions } from '../../../src/event-sourcing/event-store.ts';
import { instanceStream, type Actor, type S3Settings } from '../../../src/domain/s3-config.ts';

/**
 * Domain-shaped events written straight to the store, for workloads too large to send through the
 * command handler (which seals every secret). Sealed secrets are stand-ins: the projection only
 * carries them.
 */

const actor: Actor = { tokenKind: 'account', tokenId: 'tok-workload' };

export function updated(
  instance: string,
  settings: S3Settings,
  secret: { keyId: string; ciphertext: string } | 'unchanged',
  at = new Date(),
): NewEvent {
  return newEvent('S3ConfigUpdated', {
    schemaVersion: 1,
    instance,
    ...settings,
    secret:
      secret === 'unchanged'
        ? { change: 'unchanged' }
        : { change: 'sealed', mac: `mac-${secret.ciphertext}`, ...secret },
    actor,
    at: at.toISOString(),
  });
}

export function disabled(instance: string, keyId: string, at = new Date()): NewEvent {
  return newEvent('S3ConfigDisabled', {
    schemaVersion: 1,
    instance,
    keyId,
    actor,
    at: at.toISOString(),
  });
}

export function newEvent(type: string, data: Record<string, unknown>): NewEvent {
  return { id: randomUUID(), type, data, metadata: { requestId: 'req-workload' } };
}

/** A small deterministic PRNG, so that a failing workload can be run again. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A valid history of `length` events for one instance, as decide() could have produced it:
 * enable, then changes with and without a new secret, disables and re-enables.
 */
export function randomHistory(instance: string, length: number, random: () => number): NewEvent[] {
  const events: NewEvent[] = [];
  let keyId: string | undefined;
  let enabled = false;
  const at = new Date('2025-01-01T00:00:00Z').getTime() + Math.floor(random() * 1e9);
  for (let index = 0; index < length; index++) {
    const when = new Date(at + index * 1000);
    const roll = random();
    if (enabled && roll < 0.15) {
      events.push(disabled(instance, keyId!, when));
      enabled = false;
      continue;
    }
    if (!enabled) keyId = randomUUID();
    const secret =
      !enabled || roll < 0.5
        ? { keyId: keyId!, ciphertext: `sealed-${instance}-${index}` }
        : ('unchanged' as const);
    events.push(updated(instance, randomSettings(random), secret, when));
    enabled = true;
  }
  return events;
}

function randomSettings(random: () => number): S3Settings {
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
  return {
    region: pick(['us-east-1', 'eu-west-1', 'sa-east-1']),
    bucket: `bucket-${Math.floor(random() * 1000)}`,
    accessKey: `AKIA${Math.floor(random() * 1e6)}`,
    endpoint: pick(['', 'https://minio.example.com']),
    pathPrefix: pick(['', 'media/', 'media/x/']),
    ...pick([{}, {}, { publicBaseUrl: 'https://cdn.example.com/' }]),
  };
}

/**
 * Appends each instance's history in rounds of `chunk` events per append, interleaving instances
 * in the log, with `concurrency` appends in flight. Resolves to the last position written.
 */
export async function appendHistories(
  store: EventStore,
  histories: ReadonlyMap<string, readonly NewEvent[]>,
  { chunk = 1, concurrency = 8 }: { chunk?: number; concurrency?: number } = {},
): Promise<LogPosition | null> {
  const jobs: { instance: string; events: readonly NewEvent[]; expected: number | 'no_stream' }[] =
    [];
  const longest = Math.max(0, ...[...histories.values()].map((events) => events.length));
  for (let start = 0; start < longest; start += chunk) {
    for (const [instance, events] of histories) {
      const slice = events.slice(start, start + chunk);
      if (slice.length > 0) {
        jobs.push({ instance, events: slice, expected: start === 0 ? 'no_stream' : start - 1 });
      }
    }
  }
  let last: LogPosition | null = null;
  let next = 0;
  // Rounds are appended in order per instance: a job waits until its stream's previous one is in.
  const inFlight = new Map<string, Promise<unknown>>();
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const appending = (inFlight.get(job.instance) ?? Promise.resolve()).then(() =>
        store.appendToStream(instanceStream(job.instance), job.events, job.expected),
      );
      inFlight.set(job.instance, appending);
      const { position } = await appending;
      if (!last || comparePositions(position, last) > 0) last = position;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return last;
}
