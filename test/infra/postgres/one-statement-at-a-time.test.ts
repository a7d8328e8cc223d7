import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { OneStatementAtATime } from '../../../src/infra/postgres/one-statement-at-a-time.ts';

/** A queue whose statements finish when the test says, recording each batch sent. */
function queueOf(stallMs: number) {
  const sent: number[][] = [];
  const finish: (() => void)[] = [];
  const queue = new OneStatementAtATime<number>(
    (batch) => {
      sent.push(batch);
      return new Promise((resolve) => finish.push(resolve));
    },
    (waiting) => waiting.splice(0, 3),
    stallMs,
  );
  return { queue, sent, finish };
}

test('one statement at a time: what arrives meanwhile goes in the next, up to what take allows', async () => {
  const { queue, sent, finish } = queueOf(60_000);
  for (const n of [1, 2, 3, 4, 5]) queue.queue(n);
  assert.deepEqual(sent, [[1]]);
  finish[0]!();
  await delay(0);
  assert.deepEqual(sent, [[1], [2, 3, 4]]);
  finish[1]!();
  await delay(0);
  assert.deepEqual(sent, [[1], [2, 3, 4], [5]]);
  finish[2]!();
});

test('a statement that stalls stops holding up the queue after stallMs, and only then', async (t) => {
  // The clock is the test's: on a loaded machine a real 50 ms timer can fire seconds late, and
  // the second statement would count as stalled too.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { queue, sent, finish } = queueOf(50);
  queue.queue(1);
  queue.queue(2);
  t.mock.timers.tick(49);
  assert.deepEqual(sent, [[1]], 'the second waits while the first is not yet stalled');
  t.mock.timers.tick(1);
  assert.deepEqual(sent, [[1], [2]]);
  // The stalled one finishing late does not send anything twice or start a third statement.
  finish[0]!();
  queue.queue(3);
  await settled();
  assert.deepEqual(sent, [[1], [2]]);
  finish[1]!();
  await settled();
  assert.deepEqual(sent, [[1], [2], [3]]);
});

/** Lets the promise callbacks already due run (setImmediate is not on the mocked clock). */
const settled = () => new Promise((resolve) => setImmediate(resolve));
