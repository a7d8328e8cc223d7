import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setImmediate as yieldToEventLoop, setTimeout as delay } from 'node:timers/promises';
import {
  StreamConflictError,
  comparePositions,
  type EventStore,
  type ExpectedRevision,
  type LogPosition,
  type NewEvent,
  type RecordedEvent,
} from '../../../src/event-sourcing/event-store.ts';
import type { EventFeed } from '../../../src/event-sourcing/projection/event-feed.ts';

export interface StoreUnderTest {
  store: EventStore & EventFeed;
  cleanup(): Promise<void>;
}

/**
 * What every event store adapter must do. The store is made once per suite and may be shared
 * with other runs (an EventStoreDB server keeps its streams), so every test writes to stream
 * names and categories of its own.
 */
export function eventStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(name, () => {
    let underTest: StoreUnderTest | undefined;
    let store: EventStore & EventFeed;
    before(async () => {
      underTest = await makeStore();
      store = underTest.store;
    });
    after(() => underTest?.cleanup());

    describe('reading and appending', () => {
      test('reading a stream that was never written gives no events', async () => {
        assert.deepEqual(await store.readStream(uniqueStream()), []);
      });

      test('the first append numbers the events from 0; they read back intact and in order', async () => {
        const stream = uniqueStream();
        const events = [
          newEvent('S3ConfigUpdated', {
            bucket: 'media',
            endpoint: null,
            forcePathStyle: true,
            limits: { maxBytes: 16_777_216, types: ['image/jpeg', 'video/mp4'] },
          }),
          newEvent('MediaStored', { key: 'ünïcødé/😀.jpg', size: 0.5 }),
          { ...newEvent('MediaDeleted'), metadata: {} },
        ];

        const result = await store.appendToStream(stream, events, 'no_stream');

        assert.equal(result.revision, 2);
        const read = await store.readStream(stream);
        assert.deepEqual(read.map(asNewEvent), events);
        assert.deepEqual(
          read.map((event) => [event.stream, event.revision]),
          [0, 1, 2].map((revision) => [stream, revision]),
        );
        assertStrictlyIncreasing(read.map((event) => event.position));
        for (const { recordedAt } of read) {
          assert.ok(recordedAt instanceof Date);
          assert.ok(
            Math.abs(recordedAt.getTime() - Date.now()) < 60_000,
            `${recordedAt.toISOString()} is now`,
          );
        }
      });

      test('an append at the current revision continues the stream', async () => {
        const stream = uniqueStream();
        const events = [newEvent(), newEvent(), newEvent(), newEvent(), newEvent()];

        assert.equal(
          (await store.appendToStream(stream, events.slice(0, 2), 'no_stream')).revision,
          1,
        );
        assert.equal((await store.appendToStream(stream, events.slice(2, 3), 1)).revision, 2);
        assert.equal((await store.appendToStream(stream, events.slice(3), 2)).revision, 4);

        const read = await store.readStream(stream);
        assert.deepEqual(read.map(asNewEvent), events);
        assert.deepEqual(
          read.map((event) => event.revision),
          [0, 1, 2, 3, 4],
        );
      });

      test('an append at a wrong expected revision is a StreamConflictError and writes nothing', async () => {
        const stream = uniqueStream();
        const written = [newEvent(), newEvent()];
        await store.appendToStream(stream, written, 'no_stream');
        const missing = uniqueStream();

        const wrongAppends: [string, ExpectedRevision][] = [
          [stream, 0],
          [stream, 2],
          [stream, 7],
          [stream, 'no_stream'],
          [missing, 0],
        ];
        for (const [target, expected] of wrongAppends) {
          await assert.rejects(
            store.appendToStream(target, [newEvent()], expected),
            (error) =>
              error instanceof StreamConflictError &&
              error.stream === target &&
              error.expected === expected,
            `expected ${expected} on ${target === stream ? 'a stream at 1' : 'a missing stream'}`,
          );
        }

        assert.deepEqual((await store.readStream(stream)).map(asNewEvent), written);
        assert.deepEqual(await store.readStream(missing), []);
      });

      test('a stream read from a revision returns only the events from there on', async () => {
        const stream = uniqueStream();
        const written = [newEvent(), newEvent(), newEvent()];
        await store.appendToStream(stream, written, 'no_stream');
        const tail = await store.readStream(stream, 1);
        assert.deepEqual(tail.map(asNewEvent), written.slice(1));
        assert.deepEqual(
          tail.map((event) => event.revision),
          [1, 2],
        );
        assert.deepEqual(await store.readStream(stream, 3), []);
      });

      test('a stream read with a maximum count returns at most that many, in order', async () => {
        const stream = uniqueStream();
        const written = [newEvent(), newEvent(), newEvent(), newEvent()];
        await store.appendToStream(stream, written, 'no_stream');
        const middle = await store.readStream(stream, 1, 2);
        assert.deepEqual(middle.map(asNewEvent), written.slice(1, 3));
        assert.deepEqual(
          middle.map((event) => event.revision),
          [1, 2],
        );
        assert.deepEqual((await store.readStream(stream, 2, 10)).map(asNewEvent), written.slice(2));
        assert.deepEqual(await store.readStream(stream, 4, 1), []);
      });

      test('of concurrent appends at the same expected revision exactly one wins', async () => {
        const existing = uniqueStream();
        await store.appendToStream(existing, [newEvent()], 'no_stream');
        const cases: [string, ExpectedRevision][] = [
          [existing, 0],
          [uniqueStream(), 'no_stream'],
        ];

        for (const [stream, expected] of cases) {
          const earlier = await store.readStream(stream);
          const attempts = Array.from({ length: 6 }, () => [newEvent(), newEvent()]);
          const outcomes = await Promise.allSettled(
            attempts.map((events) => store.appendToStream(stream, events, expected)),
          );

          const winners = outcomes.flatMap((outcome, index) =>
            outcome.status === 'fulfilled' ? [attempts[index]!] : [],
          );
          assert.equal(winners.length, 1, `one winner at expected revision ${expected}`);
          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') {
              assert.ok(outcome.reason instanceof StreamConflictError, String(outcome.reason));
            }
          }
          const read = await store.readStream(stream);
          assert.deepEqual(read.map(asNewEvent), [...earlier.map(asNewEvent), ...winners[0]!]);
        }
      });

      test('a multi-event append returns the position of its last event', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, [newEvent()], 'no_stream');
        const result = await store.appendToStream(stream, [newEvent(), newEvent(), newEvent()], 0);
        const read = await store.readStream(stream);
        assert.equal(result.revision, 3);
        assert.deepEqual(result.position, read.at(-1)!.position);
      });

      test('the log identity names the store and stays the same', async () => {
        const identity = await store.logIdentity();
        assert.ok(['postgres', 'eventstoredb', 'in-memory'].includes(identity.store));
        assert.ok(identity.id.length > 0);
        assert.deepEqual(await store.logIdentity(), identity);
      });

      test('successive appends get increasing positions', async () => {
        const streams = [uniqueStream(), uniqueStream(), uniqueStream()];
        const positions: LogPosition[] = [];
        for (const stream of [...streams, ...streams]) {
          const current = await store.readStream(stream);
          const expected = current.length === 0 ? 'no_stream' : current.length - 1;
          positions.push((await store.appendToStream(stream, [newEvent()], expected)).position);
        }
        assertStrictlyIncreasing(positions);
      });
    });

    describe('subscribing to a category', () => {
      test(
        'delivers the category in log order, history then live, in batches of at most maxBatch',
        {
          timeout: 30_000,
        },
        async () => {
          const { category, outsiders } = uniqueCategory();
          const ours: NewEvent[] = [];
          const append = async (stream: string, events: NewEvent[]) => {
            const current = await store.readStream(stream);
            await store.appendToStream(stream, events, current.at(-1)?.revision ?? 'no_stream');
            if (stream.startsWith(category)) ours.push(...events);
          };
          // Each round ends with an event of the category, so waiting for the category's events
          // also waits past every outsider that a wrong filter would have let through.
          await append(`${category}a`, [newEvent()]);
          for (const outsider of outsiders) await append(outsider, [newEvent()]);
          await append(`${category}b`, [newEvent()]);
          await append(`${category}a`, [newEvent(), newEvent()]);
          await append(`${category}b`, [newEvent()]);
          const history = ours.length;

          const follower = follow(store, category, null, 2);
          await follower.waitFor(history);
          for (const outsider of outsiders) await append(outsider, [newEvent()]);
          await append(`${category}c`, [newEvent(), newEvent(), newEvent()]);
          await append(`${category}a`, [newEvent()]);
          await follower.waitFor(ours.length);
          await follower.stop();

          assert.deepEqual(follower.events.map(asNewEvent), ours);
          assertStrictlyIncreasing(follower.events.map((event) => event.position));
          for (const size of follower.batchSizes)
            assert.ok(size >= 1 && size <= 2, `batch of ${size}`);
        },
      );

      test('a backlog comes in full batches of maxBatch', { timeout: 60_000 }, async () => {
        const { category } = uniqueCategory();
        for (let round = 0; round < 5; round++) {
          const events = Array.from({ length: 50 }, () => newEvent());
          await store.appendToStream(
            `${category}a`,
            events,
            round === 0 ? 'no_stream' : round * 50 - 1,
          );
        }
        // Once all of it is readable (the Postgres store holds events back behind any older
        // transaction still open on the server), it is a backlog.
        const reader = follow(store, category, null, 1000);
        await reader.waitFor(250);
        await reader.stop();
        const follower = follow(store, category, null, 100);
        await follower.waitFor(250);
        await follower.stop();
        assert.deepEqual(follower.batchSizes, [100, 100, 50]);
      });

      test(
        "the recorded time of the first event after a position, none after the last, by the store's clock",
        { timeout: 30_000 },
        async () => {
          const { category } = uniqueCategory();
          assert.equal(await store.firstRecordedAfter(category, null), null);
          await store.appendToStream(`${category}a`, [newEvent()], 'no_stream');
          await store.appendToStream(`${category}b`, [newEvent()], 'no_stream');
          const [first] = await store.readStream(`${category}a`);
          const [second] = await store.readStream(`${category}b`);
          assert.deepEqual(await store.firstRecordedAfter(category, null), first!.recordedAt);
          assert.deepEqual(
            await store.firstRecordedAfter(category, first!.position),
            second!.recordedAt,
          );
          assert.equal(await store.firstRecordedAfter(category, second!.position), null);
          // The clock that stamped them: a replay compares the two.
          assert.ok(second!.recordedAt <= (await store.currentTime()));
        },
      );

      test('from a checkpoint delivers only the events after it', { timeout: 30_000 }, async () => {
        const { category } = uniqueCategory();
        const events = [newEvent(), newEvent(), newEvent(), newEvent(), newEvent()];
        const streams = [`${category}a`, `${category}b`];
        for (const [index, event] of events.slice(0, 4).entries()) {
          const stream = streams[index % 2]!;
          await store.appendToStream(stream, [event], index < 2 ? 'no_stream' : 0);
        }
        const [checkpointEvent] = await store.readStream(streams[1]!);

        const follower = follow(store, category, checkpointEvent!.position, 10);
        await follower.waitFor(2);
        await store.appendToStream(streams[0]!, [events[4]!], 1);
        await follower.waitFor(3);
        await follower.stop();

        assert.deepEqual(follower.events.map(asNewEvent), events.slice(2));
      });

      test(
        'aborting ends the subscription: idle, before it starts, or during a batch',
        {
          timeout: 30_000,
        },
        async () => {
          const { category } = uniqueCategory();
          const idle = new AbortController();
          const idleSubscription = store.subscribe(category, null, failOnBatch, {
            signal: idle.signal,
            maxBatch: 10,
          });
          await delay(200);
          idle.abort();
          await withTimeout(idleSubscription, 'an idle subscription to end on abort');

          await store.appendToStream(
            `${category}a`,
            [newEvent(), newEvent(), newEvent()],
            'no_stream',
          );
          await withTimeout(
            store.subscribe(category, null, failOnBatch, {
              signal: AbortSignal.abort(),
              maxBatch: 1,
            }),
            'a subscription with an aborted signal to end',
          );

          const busy = new AbortController();
          const batches: number[] = [];
          await withTimeout(
            store.subscribe(
              category,
              null,
              async (batch) => {
                batches.push(batch.length);
                busy.abort();
              },
              { signal: busy.signal, maxBatch: 1 },
            ),
            'a subscription aborted in onBatch to end',
          );
          assert.deepEqual(batches, [1]);
        },
      );

      test('a failing onBatch rejects the subscription', { timeout: 30_000 }, async () => {
        const { category } = uniqueCategory();
        await store.appendToStream(`${category}a`, [newEvent()], 'no_stream');
        const projectionFailure = new Error('the projection failed');

        await assert.rejects(
          withTimeout(
            store.subscribe(
              category,
              null,
              async () => {
                throw projectionFailure;
              },
              { signal: new AbortController().signal, maxBatch: 10 },
            ),
            'the subscription to fail',
          ),
          (error) => error === projectionFailure,
        );
      });
    });
  });
}

export function uniqueStream(): string {
  return `instance-s3-${randomBytes(6).toString('hex')}`;
}

/**
 * A category of its own, and stream names just outside it: another category, one that only a
 * LIKE pattern with an unescaped `_` would match, and one that merely contains the category.
 */
export function uniqueCategory(): { category: string; outsiders: string[] } {
  const tag = randomBytes(6).toString('hex');
  const category = `t_${tag}-`;
  return { category, outsiders: [`u_${tag}-a`, `tx${tag}-a`, `x${category}a`] };
}

export function newEvent(type = 'MediaStored', data: Record<string, unknown> = {}): NewEvent {
  return {
    id: randomUUID(),
    type,
    data: { ...data, nonce: randomUUID() },
    metadata: { correlationId: randomUUID() },
  };
}

export function asNewEvent({ id, type, data, metadata }: RecordedEvent): NewEvent {
  return { id, type, data, metadata };
}

export function assertStrictlyIncreasing(positions: readonly LogPosition[]): void {
  for (let index = 1; index < positions.length; index++) {
    const [previous, current] = [positions[index - 1]!, positions[index]!];
    assert.ok(
      comparePositions(previous, current) < 0,
      `position ${current.join('/')} at ${index} is not after ${previous.join('/')}`,
    );
  }
}

export interface Follower {
  readonly events: readonly RecordedEvent[];
  readonly batchSizes: readonly number[];
  /** Waits until at least `count` events arrived; fails with what did arrive after 15 s. */
  waitFor(count: number): Promise<void>;
  /** Aborts the subscription and rethrows whatever it failed with. */
  stop(): Promise<void>;
}

/** A live subscription that records what it delivers. */
export function follow(
  feed: EventFeed,
  category: string,
  after: LogPosition | null,
  maxBatch: number,
): Follower {
  const events: RecordedEvent[] = [];
  const batchSizes: number[] = [];
  const abort = new AbortController();
  let inBatch = false;
  let failure: Error | undefined;
  const running = feed.subscribe(
    category,
    after,
    async (batch) => {
      if (inBatch) throw new Error('onBatch was called before the previous batch was done');
      inBatch = true;
      events.push(...batch);
      batchSizes.push(batch.length);
      // Gives a subscription that does not wait for onBatch the chance to call it again.
      await yieldToEventLoop();
      inBatch = false;
    },
    { signal: abort.signal, maxBatch },
  );
  running.catch((error: Error) => {
    failure = error;
  });
  return {
    events,
    batchSizes,
    async waitFor(count) {
      const deadline = Date.now() + 15_000;
      while (events.length < count) {
        if (failure) throw failure;
        if (Date.now() > deadline) {
          assert.fail(`waited for ${count} events, got ${events.length}`);
        }
        await delay(5);
      }
    },
    async stop() {
      abort.abort();
      await withTimeout(running, 'the subscription to end on abort');
    },
  };
}

async function failOnBatch(): Promise<void> {
  throw new Error('no batch was expected');
}

async function withTimeout<T>(promise: Promise<T>, awaited: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${awaited}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
