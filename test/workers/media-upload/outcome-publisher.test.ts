import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TopicMessages } from 'kafkajs';
import {
  isPermanentPublishFailure,
  OutcomePublisher,
} from '../../../src/workers/media-upload/outcome-publisher.ts';

const refusal = Object.assign(new Error('too large'), { retriable: false });

test('outcomes arriving during a send go out together, in requests of at most maxBatchBytes', async () => {
  const requests: string[][] = [];
  const publisher = new OutcomePublisher(async (batch: TopicMessages[]) => {
    requests.push(batch.flatMap(({ messages }) => messages.map((m) => String(m.value))));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }, 10);
  await Promise.all(
    ['a', 'b1234', 'c1234', 'd1234', 'e'].map((v) =>
      publisher.publish('t', { key: null, value: v }),
    ),
  );
  assert.deepEqual(requests, [['a'], ['b1234', 'c1234'], ['d1234', 'e']]);
});

test('a batch refused for good is sent again one by one: only the refused outcome fails', async () => {
  const publisher = new OutcomePublisher(async (batch: TopicMessages[]) => {
    const values = batch.flatMap(({ messages }) => messages.map((m) => String(m.value)));
    if (values.includes('huge')) throw refusal;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }, 1_000);
  const first = publisher.publish('t', { key: null, value: 'first' });
  const rest = ['ok', 'huge', 'fine'].map((value) => publisher.publish('t', { key: null, value }));
  await first;
  const settled = await Promise.allSettled(rest);
  assert.deepEqual(
    settled.map((result) => result.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
});

test('a failure that retrying may fix is not permanent, whatever kafkajs wraps it in', () => {
  assert.equal(isPermanentPublishFailure(refusal), true);
  assert.equal(isPermanentPublishFailure(new Error('connection closed')), false);
  assert.equal(
    isPermanentPublishFailure(Object.assign(new Error('x'), { retriable: true })),
    false,
  );
  const exhausted = Object.assign(new Error('x'), {
    retriable: false,
    name: 'KafkaJSNumberOfRetriesExceeded',
  });
  assert.equal(isPermanentPublishFailure(exhausted), false);
});
