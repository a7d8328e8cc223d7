import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WindowsInMemory } from '../../src/http/rate-limit-store.ts';

function countsOf(store: WindowsInMemory, method: 'incr' | 'read', key: string) {
  let answer: { current: number; ttl: number } | undefined;
  store[method](
    key,
    (error, result) => {
      assert.equal(error, null);
      answer = result;
    },
    60_000,
  );
  assert.ok(answer, 'answered synchronously');
  return answer;
}

test('a window counts from its first request and starts again once its time is over', () => {
  let now = 1_000_000;
  const store = new WindowsInMemory(10, () => now);
  assert.deepEqual(countsOf(store, 'incr', 'a'), { current: 1, ttl: 60_000 });
  now += 15_000;
  assert.deepEqual(countsOf(store, 'incr', 'a'), { current: 2, ttl: 45_000 });
  assert.deepEqual(countsOf(store, 'read', 'a'), { current: 2, ttl: 45_000 });
  assert.deepEqual(countsOf(store, 'read', 'b'), { current: 0, ttl: 0 });
  now += 45_000;
  assert.deepEqual(countsOf(store, 'read', 'a'), { current: 0, ttl: 0 });
  assert.deepEqual(countsOf(store, 'incr', 'a'), { current: 1, ttl: 60_000 });
});

test('when full, the window opened longest ago is dropped, however busy', () => {
  let now = 0;
  const store = new WindowsInMemory(2, () => now);
  countsOf(store, 'incr', 'first');
  now += 1;
  countsOf(store, 'incr', 'second');
  countsOf(store, 'incr', 'first');
  countsOf(store, 'incr', 'third');
  assert.equal(countsOf(store, 'read', 'first').current, 0);
  assert.equal(countsOf(store, 'read', 'second').current, 1);
  assert.equal(countsOf(store, 'read', 'third').current, 1);
});
