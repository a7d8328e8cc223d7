import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RecordedEvent as EsdbRecordedEvent } from '@eventstore/db-client';
import type { LogPosition } from '../../../src/event-sourcing/event-store.ts';
import { readInBatches } from '../../../src/infra/event-store/eventstoredb-batches.ts';
import { EventStoreDbEventStore } from '../../../src/infra/event-store/eventstoredb-event-store.ts';
import { decodeRecord } from '../../../src/infra/event-store/eventstoredb-records.ts';
import type { FeedEvent } from '../../../src/event-sourcing/projection/event-feed.ts';

// Pure: a Readable in object mode stands in for the client's subscription (a Transform that
// buffers resolved events up to its high-water mark).

// Overrides may set a field to undefined, to build records an old server would send.
type RecordOverrides = {
  [Field in keyof EsdbRecordedEvent]?: EsdbRecordedEvent[Field] | undefined;
};

function record(commit: number, overrides: RecordOverrides = {}): EsdbRecordedEvent {
  return {
    streamId: 'instance-s3-alpha',
    id: randomUUID(),
    revision: BigInt(commit),
    type: 'S3ConfigUpdated',
    data: { n: commit },
    metadata: { correlation: 'x' },
    isJson: true,
    created: new Date(1_700_000_000_000 + commit),
    position: { commit: BigInt(commit * 100), prepare: BigInt(commit * 100) },
    ...overrides,
  } as EsdbRecordedEvent;
}

function subscription(highWaterMark: number) {
  return new Readable({ objectMode: true, highWaterMark, read() {} });
}

async function collect(
  source: Readable,
  options: { maxBatch: number; lingerMs?: number; after?: LogPosition; until: number },
): Promise<FeedEvent[][]> {
  const batches: FeedEvent[][] = [];
  const stop = new AbortController();
  let seen = 0;
  await readInBatches(
    source,
    decodeRecord,
    async (batch) => {
      batches.push([...batch]);
      seen += batch.length;
      if (seen >= options.until) stop.abort();
    },
    {
      signal: stop.signal,
      maxBatch: options.maxBatch,
      after: options.after ?? null,
      lingerMs: options.lingerMs ?? 50,
    },
  );
  return batches;
}

describe('reading an EventStoreDB subscription in batches', () => {
  test('a buffered backlog comes in batches of exactly maxBatch, the rest after it', async () => {
    const source = subscription(1000);
    for (let n = 1; n <= 2500; n++) source.push({ event: record(n) });

    const batches = await collect(source, { maxBatch: 1000, until: 2500 });

    assert.deepEqual(
      batches.map((batch) => batch.length),
      [1000, 1000, 500],
    );
    assert.deepEqual(
      batches.flat().map((event) => event.data.n),
      Array.from({ length: 2500 }, (_, index) => index + 1),
    );
  });

  test('history arriving in bursts still fills whole batches (replay reads a short one as the end)', async () => {
    const source = subscription(1000);
    const producing = (async () => {
      for (let n = 1; n <= 2500; n++) {
        source.push({ event: record(n) });
        if (n % 40 === 0) await nextTurn();
      }
    })();

    const batches = await collect(source, { maxBatch: 1000, lingerMs: 500, until: 2500 });
    await producing;

    assert.deepEqual(
      batches.map((batch) => batch.length),
      [1000, 1000, 500],
    );
  });

  test('once the subscription caught up, an event goes out at once in a batch of its own', async () => {
    const source = subscription(1000);
    source.push({ event: record(1) });
    source.push({ event: record(2) });
    const live = (async () => {
      await nextTurn();
      source.emit('caughtUp');
      await nextTurn();
      source.push({ event: record(3) });
    })();

    // A linger of an hour: only the caught-up signal can let these batches go.
    const batches = await collect(source, { maxBatch: 1000, lingerMs: 3_600_000, until: 3 });
    await live;

    assert.deepEqual(
      batches.map((batch) => batch.map((event) => event.data.n)),
      [[1, 2], [3]],
    );
  });

  test('records at or before the start position and resolved links without an event are dropped', async () => {
    const source = subscription(10);
    for (const n of [3, 4, 5, 6]) source.push({ event: record(n) });
    source.push({ event: undefined, link: record(7) });
    source.push({ event: record(8) });

    const batches = await collect(source, { maxBatch: 10, after: [500n, 500n], until: 2 });

    assert.deepEqual(
      batches.flat().map((event) => event.data.n),
      [6, 8],
    );
  });

  test('an undecodable record comes in its place, marked, between the events around it', async () => {
    const source = subscription(10);
    source.push({ event: record(1) });
    source.push({
      event: record(2, { type: '$streamDeleted', isJson: false, data: new Uint8Array() }),
    });
    source.push({ event: record(3) });

    const [batch] = await collect(source, { maxBatch: 10, until: 3 });

    assert.deepEqual(
      batch!.map((event) => [event.revision, event.undecodable]),
      [
        [1, undefined],
        [2, 'the tombstone of a deleted stream'],
        [3, undefined],
      ],
    );
  });

  test('a subscription error or end rejects; an abort resolves', async () => {
    const failing = subscription(10);
    const reading = collect(failing, { maxBatch: 10, until: 1 });
    failing.emit('error', new Error('connection lost'));
    await assert.rejects(reading, /connection lost/);

    const ending = subscription(10);
    const read = collect(ending, { maxBatch: 10, until: 1 });
    ending.push(null);
    ending.resume();
    await assert.rejects(read, /ended by itself/);

    const idle = subscription(10);
    const stop = new AbortController();
    const waiting = readInBatches(idle, decodeRecord, async () => {}, {
      signal: stop.signal,
      maxBatch: 10,
      after: null,
      lingerMs: 10,
    });
    stop.abort();
    await waiting;
  });

  test("the adapter's subscription buffers maxBatch events (no server needed to build it)", async () => {
    const store = new EventStoreDbEventStore('esdb://127.0.0.1:1?tls=false');
    const opened = store.subscribeToCategory('instance-s3-', null, 1000);
    opened.on('error', () => {});
    try {
      assert.equal(opened.readableHighWaterMark, 1000);
    } finally {
      // eslint-disable-next-line no-restricted-syntax -- cleanup: a failed unsubscribe must not hide the test's own result
      await opened.unsubscribe().catch(() => {});
      opened.destroy();
      await store.close();
    }
  });
});

describe('decoding EventStoreDB records', () => {
  test('a JSON object record decodes with its position, revision and time', () => {
    const decoded = decodeRecord(record(4));
    assert.equal(decoded.undecodable, undefined);
    assert.deepEqual(decoded.data, { n: 4 });
    assert.deepEqual(decoded.metadata, { correlation: 'x' });
    assert.deepEqual(decoded.position, [400n, 400n]);
    assert.equal(decoded.revision, 4);
    assert.equal(decoded.stream, 'instance-s3-alpha');
    assert.deepEqual(decoded.recordedAt, new Date(1_700_000_000_004));
    assert.deepEqual(decodeRecord(record(5, { metadata: undefined })).metadata, {});
  });

  for (const [what, overrides, reason] of [
    [
      'a tombstone',
      { type: '$streamDeleted', isJson: false, data: new Uint8Array() },
      'the tombstone of a deleted stream',
    ],
    ['binary data', { isJson: false, data: new Uint8Array([1, 2]) }, 'not JSON'],
    ['malformed JSON (the client hands over the text)', { data: '{"n":' }, 'not a JSON object'],
    ['a JSON array', { data: [1, 2] }, 'not a JSON object'],
    ['JSON null', { data: null }, 'not a JSON object'],
    ['a JSON number', { data: 7 }, 'not a JSON object'],
    [
      'metadata that is not JSON',
      { metadata: new Uint8Array([1]) },
      'metadata is not a JSON object',
    ],
  ] as const) {
    test(`${what} is marked undecodable, with empty data, at its position`, () => {
      const decoded = decodeRecord(record(9, overrides as Partial<EsdbRecordedEvent>));
      assert.match(decoded.undecodable ?? '', new RegExp(reason.replace(/[()]/g, '\\$&')));
      assert.deepEqual(decoded.data, {});
      assert.deepEqual(decoded.position, [900n, 900n]);
      assert.equal(decoded.revision, 9);
    });
  }

  test('a record without a position (server older than 22.6) is an error, not a poison event', () => {
    assert.throws(
      () => decodeRecord(record(1, { position: undefined })),
      /no position .* older than 22\.6/,
    );
  });
});
