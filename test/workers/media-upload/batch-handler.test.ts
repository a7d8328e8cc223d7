import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import pino from 'pino';
import {
  batchHandler,
  type BatchHandlerDeps,
} from '../../../src/workers/media-upload/batch-handler.ts';
import { InOrderOffsets } from '../../../src/workers/media-upload/in-order-offsets.ts';
import { failed, type UploadOutcome } from '../../../src/workers/media-upload/outcomes.ts';
import type { MessageResult } from '../../../src/workers/media-upload/process-message.ts';
import { Slots } from '../../../src/workers/media-upload/slots.ts';
import { initSealing } from '../../../src/infra/sealing.ts';

await initSealing();

test('offsets finished out of order are resolvable only in order', () => {
  const offsets = new InOrderOffsets(['5', '6', '7', '8']);
  assert.equal(offsets.finish('6'), undefined);
  assert.equal(offsets.finish('8'), undefined);
  assert.equal(offsets.finish('5'), '6');
  assert.deepEqual(offsets.finishedBeyondGap(), ['8']);
  assert.equal(offsets.finish('7'), '8');
});

test('slots admit at most their limit, the others in arrival order', async () => {
  const slots = new Slots(2);
  const first = await slots.acquire();
  await slots.acquire();
  const order: number[] = [];
  const third = slots.acquire().then((release) => (order.push(3), release));
  const fourth = slots.acquire().then((release) => (order.push(4), release));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, []);
  first();
  first(); // releasing twice gives back one slot only
  (await third)();
  await fourth;
  assert.deepEqual(order, [3, 4]);
});

const outcomeOf = (offset: string): UploadOutcome =>
  failed({ id: offset, instance: 'x', code: 'c', reason: 'r', attempts: 1, retryable: false });

function message(offset: number, key: string): KafkaMessage {
  return {
    offset: String(offset),
    key: Buffer.from(key),
    value: null,
    timestamp: '0',
    attributes: 0,
    size: 0,
  };
}

function fakePayload(messages: KafkaMessage[]) {
  const resolved: string[] = [];
  let paused = 0;
  const payload = {
    batch: { topic: 't', partition: 0, highWatermark: '100', messages },
    resolveOffset: (offset: string) => resolved.push(offset),
    heartbeat: async () => {},
    pause: () => {
      paused++;
      return () => {};
    },
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
  return { payload, resolved, paused: () => paused };
}

function deps(overrides: Partial<BatchHandlerDeps>): BatchHandlerDeps {
  return {
    process: async (inbound) => ({ kind: 'finished', outcome: outcomeOf(inbound.offset) }),
    publish: async () => {},
    published: () => {},
    concurrency: 4,
    retryPolicy: { firstDelayMs: 10, maxDelayMs: 10, maxElapsedMs: 60_000 },
    signal: new AbortController().signal,
    resumeLater: () => {},
    logger: pino({ level: 'silent' }),
    ...overrides,
  };
}

test("one instance's messages run one after the other; different instances' at once", async () => {
  const running = new Set<string>();
  const overlaps: string[] = [];
  const started: string[] = [];
  const handler = batchHandler(
    deps({
      process: async (inbound) => {
        const key = String(inbound.key);
        if (running.has(key)) overlaps.push(key);
        running.add(key);
        started.push(inbound.offset);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running.delete(key);
        return { kind: 'finished', outcome: outcomeOf(inbound.offset) };
      },
    }),
  );
  const batch = fakePayload([message(0, 'a'), message(1, 'a'), message(2, 'b'), message(3, 'a')]);
  await handler(batch.payload);
  assert.deepEqual(overlaps, []);
  assert.ok(started.indexOf('2') < started.indexOf('1'), 'b did not wait for a');
  assert.deepEqual(
    started.filter((offset) => offset !== '2'),
    ['0', '1', '3'],
  );
  assert.equal(batch.resolved.at(-1), '3');
});

test('an upload slot is free again once its upload is done, before the broker acknowledges the outcome', async () => {
  const processed: string[] = [];
  let acknowledgeFirst = () => {};
  const handler = batchHandler(
    deps({
      concurrency: 1,
      process: async (inbound) => {
        processed.push(inbound.offset);
        return { kind: 'finished', outcome: outcomeOf(inbound.offset) };
      },
      publish: (outcome) =>
        outcome.body.id === '0'
          ? new Promise<void>((resolve) => (acknowledgeFirst = resolve))
          : Promise.resolve(),
    }),
  );
  const batch = fakePayload([message(0, 'a'), message(1, 'b'), message(2, 'a')]);
  const handled = handler(batch.payload);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const beforeAcknowledgement = { processed: [...processed], resolved: [...batch.resolved] };
  acknowledgeFirst();
  await handled;
  // b used the only slot while a's outcome waited; a's next message waited for that outcome.
  assert.deepEqual(beforeAcknowledgement, { processed: ['0', '1'], resolved: [] });
  assert.deepEqual(processed, ['0', '1', '2']);
  assert.equal(batch.resolved.at(-1), '2');
});

test('while the broker does not acknowledge, at most four outcomes per slot wait for it', async () => {
  let processed = 0;
  const acknowledgements: (() => void)[] = [];
  const handler = batchHandler(
    deps({
      concurrency: 2,
      process: async (inbound) => {
        processed++;
        return { kind: 'finished', outcome: outcomeOf(inbound.offset) };
      },
      publish: () => new Promise<void>((resolve) => acknowledgements.push(resolve)),
    }),
  );
  const batch = fakePayload(Array.from({ length: 20 }, (_, n) => message(n, `instance-${n}`)));
  const handled = handler(batch.payload);
  await new Promise((resolve) => setTimeout(resolve, 20));
  // Eight outcomes wait; two more uploads are done and hold their slots until one is taken.
  const processedUnacknowledged = processed;
  while (processed < 20 || acknowledgements.length > 0) {
    acknowledgements.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await handled;
  assert.equal(processedUnacknowledged, 10);
  assert.equal(batch.resolved.at(-1), '19');
});

test("each batch's configurations are read before any of its messages is processed, and used by all", async () => {
  const events: string[] = [];
  let reads = 0;
  const handler = batchHandler(
    deps({
      readConfigs: (messages) => {
        events.push(`read ${messages.map((m) => m.offset).join(',')}`);
        return ++reads * 10;
      },
      process: async (inbound) => {
        events.push(`process ${inbound.offset} from ${inbound.configsFrom}`);
        return { kind: 'finished', outcome: outcomeOf(inbound.offset) };
      },
    }),
  );
  await handler(fakePayload([message(0, 'a'), message(1, 'b')]).payload);
  await handler(fakePayload([message(2, 'a')]).payload);
  assert.deepEqual(events, [
    'read 0,1',
    'process 0 from 10',
    'process 1 from 10',
    'read 2',
    'process 2 from 20',
  ]);
});

test('a transient failure pauses the partition; what finished behind it is not redone', async () => {
  const attempts: string[] = [];
  let failOffsetOne = true;
  const handler = batchHandler(
    deps({
      process: async (inbound): Promise<MessageResult> => {
        attempts.push(inbound.offset);
        if (inbound.offset === '1' && failOffsetOne) {
          failOffsetOne = false;
          return { kind: 'transient', code: 'SlowDown', reason: 'r', outcome: outcomeOf('1') };
        }
        return { kind: 'finished', outcome: outcomeOf(inbound.offset) };
      },
    }),
  );
  const first = fakePayload([message(0, 'a'), message(1, 'b'), message(2, 'c')]);
  await handler(first.payload);
  assert.equal(first.paused(), 1);
  assert.deepEqual(first.resolved, ['0'], 'nothing past the failed message is resolved');

  // After the backoff the partition is fetched again from the failed message.
  const again = fakePayload([message(1, 'b'), message(2, 'c')]);
  await handler(again.payload);
  assert.deepEqual(attempts.sort(), ['0', '1', '1', '2']);
  assert.equal(again.resolved.at(-1), '2');
});

test('a failed publish fails the batch, leaving its offset unresolved', async () => {
  const handler = batchHandler(
    deps({
      publish: async (outcome) => {
        if (outcome.body.id === '1') throw new Error('broker away');
      },
    }),
  );
  const batch = fakePayload([message(0, 'a'), message(1, 'a'), message(2, 'a')]);
  await assert.rejects(handler(batch.payload), /broker away/);
  assert.deepEqual(batch.resolved, ['0']);
});

const tooLarge = () =>
  Object.assign(new Error('too large'), { retriable: false, type: 'MESSAGE_TOO_LARGE' });

test('an outcome the broker refuses for good is replaced by a minimal one, and the partition moves on', async () => {
  const sent: UploadOutcome[] = [];
  const handler = batchHandler(
    deps({
      publish: async (outcome) => {
        const minimal = outcome.type === 'failed' && outcome.body.code === 'outcome-unpublishable';
        if (outcome.body.id === '1' && !minimal) throw tooLarge();
        sent.push(outcome);
      },
    }),
  );
  const batch = fakePayload([message(0, 'a'), message(1, 'a'), message(2, 'a')]);
  await handler(batch.payload);
  assert.deepEqual(
    sent.map((outcome) => [outcome.body.id, outcome.type === 'failed' && outcome.body.code]),
    [
      ['0', 'c'],
      ['1', 'outcome-unpublishable'],
      ['2', 'c'],
    ],
  );
  assert.equal(batch.resolved.at(-1), '2');
});

test('when even the minimal outcome is refused for good, the message is passed over and logged', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
  const published: string[] = [];
  const handler = batchHandler(
    deps({
      publish: async (outcome) => {
        if (outcome.body.id === '1') throw tooLarge();
      },
      published: (outcome) => published.push(String(outcome.body.id)),
      logger,
    }),
  );
  const batch = fakePayload([message(0, 'a'), message(1, 'a'), message(2, 'a')]);
  await handler(batch.payload);
  assert.equal(batch.resolved.at(-1), '2');
  assert.deepEqual(published, ['0', '2']);
  assert.equal(lines.filter((line) => line.includes('"offset":"1"')).length, 2);
  assert.match(lines.at(-1)!, /passed over without one/);
});

test('a refusal while the worker stops is no verdict: the batch fails and the message comes again', async () => {
  const stopping = new AbortController();
  const handler = batchHandler(
    deps({
      signal: stopping.signal,
      process: async (inbound) => {
        stopping.abort();
        return { kind: 'finished', outcome: outcomeOf(inbound.offset) };
      },
      publish: async () => {
        throw tooLarge();
      },
    }),
  );
  const batch = fakePayload([message(0, 'a')]);
  await assert.rejects(handler(batch.payload), /too large/);
  assert.deepEqual(batch.resolved, []);
});
