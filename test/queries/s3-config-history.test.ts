import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  decide,
  evolve,
  initialState,
  type S3ConfigCommand,
  type S3ConfigState,
} from '../../src/domain/s3-config.ts';
import type { EventStore } from '../../src/event-sourcing/event-store.ts';
import { s3ConfigEvents } from '../../src/commands/s3-config-stream.ts';
import { InMemoryEventStore } from '../../src/infra/event-store/in-memory-event-store.ts';
import { auditTrail, readHistoryPage } from '../../src/queries/s3-config-history.ts';

const actor = { tokenKind: 'account', tokenId: 'token-1' } as const;
const at = '2026-12-02T06:00:00.000Z';

/** Appends the events `decide` gives for each command, as the command side would. */
async function record(
  store: EventStore,
  stream: string,
  commands: S3ConfigCommand[],
  from: S3ConfigState = initialState,
) {
  let state = from;
  for (const command of commands) {
    const events = decide(command, state);
    if (events.length === 0) continue;
    await store.appendToStream(
      stream,
      events.map((event) => ({
        id: randomUUID(),
        ...s3ConfigEvents.toStored(event),
        metadata: {},
      })),
      state.revision ?? 'no_stream',
    );
    state = events.reduce(evolve, state);
  }
  return state;
}

/** 25 changes: buckets and prefixes, secrets kept and new, disables and re-enables. */
function changes(instance: string): S3ConfigCommand[] {
  return Array.from({ length: 25 }, (_, n): S3ConfigCommand => {
    if (n % 7 === 6) return { type: 'UpdateS3Config', enabled: false, instance, actor, at };
    return {
      type: 'UpdateS3Config',
      enabled: true,
      instance,
      settings: {
        region: n % 2 ? 'eu-west-1' : 'us-east-1',
        bucket: `bucket-${n % 3}`,
        accessKey: 'AKIAEXAMPLE',
        endpoint: '',
        pathPrefix: `media/${n}/`,
        ...(n % 4 === 0 ? { publicBaseUrl: `https://cdn.example.com/${n}` } : {}),
      },
      secret: { keyId: 'key-1', mac: `mac-${n % 5 === 0 ? n : 0}`, ciphertext: 'sealed' },
      actor,
      at,
    };
  });
}

/** Every page, following nextAfter from the start, and how many events each read returned. */
async function allPages(store: EventStore, stream: string, limit: number) {
  const entries = [];
  const eventsRead: number[] = [];
  const counting: Pick<EventStore, 'readStream'> = {
    async readStream(...args) {
      const events = await store.readStream(...args);
      eventsRead.push(events.length);
      return events;
    },
  };
  let after: number | undefined;
  for (;;) {
    const page = await readHistoryPage(counting, stream, { after, limit });
    assert.ok(page.history.length <= limit);
    entries.push(...page.history);
    if (page.nextAfter === null) break;
    after = page.nextAfter;
  }
  return { entries, eventsRead };
}

test('pages of any size, followed to the end, are the whole audit trail; each reads only its own events and the one before', async () => {
  const store = new InMemoryEventStore();
  await record(store, 'instance-s3-paged', changes('paged'));
  const whole = auditTrail(await store.readStream('instance-s3-paged'));
  assert.equal(whole.length, 25);

  for (const limit of [1, 2, 3, 7, 24, 25, 50]) {
    const { entries, eventsRead } = await allPages(store, 'instance-s3-paged', limit);
    assert.deepEqual(entries, whole, `limit ${limit}`);
    for (const count of eventsRead) assert.ok(count <= limit + 2, `limit ${limit} read ${count}`);
  }
});

test('an event of a type this version does not know has no entry, and the pages around it stay right', async () => {
  const store = new InMemoryEventStore();
  const [first, second, third] = changes('mixed');
  const state = await record(store, 'instance-s3-mixed', [first!, second!]);
  const unknown = { type: 'S3ConfigNoted', data: { note: 'from a later version' }, metadata: {} };
  await store.appendToStream('instance-s3-mixed', [{ id: randomUUID(), ...unknown }], 1);
  // The third change, after the unknown event, compares with the second.
  await record(store, 'instance-s3-mixed', [third!], { ...state, revision: 2 });
  const whole = auditTrail(await store.readStream('instance-s3-mixed'));
  assert.deepEqual(
    whole.map((entry) => entry.revision),
    [0, 1, 3],
  );
  assert.deepEqual(Object.keys(whole[2]!.changes).sort(), ['bucket', 'pathPrefix', 'region']);
  for (const limit of [1, 2, 5]) {
    assert.deepEqual((await allPages(store, 'instance-s3-mixed', limit)).entries, whole);
  }
});
