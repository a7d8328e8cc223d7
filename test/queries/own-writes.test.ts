import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogPosition } from '../../src/event-sourcing/event-store.ts';
import { OwnWrites } from '../../src/queries/own-writes.ts';

const at = (major: number, minor = 0): LogPosition => [BigInt(major), BigInt(minor)];

test('keeps the last position written per instance, never an older one', () => {
  const writes = new OwnWrites();
  writes.appended('a', at(5));
  writes.appended('a', at(3));
  assert.deepEqual(writes.pendingFor('a'), at(5));
  writes.appended('a', at(5, 2));
  assert.deepEqual(writes.pendingFor('a'), at(5, 2));
  assert.equal(writes.pendingFor('b'), undefined);
});

test('forgets every instance the projection has passed, and only those', () => {
  const writes = new OwnWrites();
  writes.appended('a', at(1));
  writes.appended('b', at(2));
  writes.appended('c', at(3));
  writes.passed(at(2));
  assert.equal(writes.pendingFor('a'), undefined);
  assert.equal(writes.pendingFor('b'), undefined);
  assert.deepEqual(writes.pendingFor('c'), at(3));
  assert.equal(writes.size, 1);
});

test('holds at most its limit, forgetting the least recently written first', () => {
  const writes = new OwnWrites(3);
  for (let i = 0; i < 1000; i++) writes.appended(`instance-${i % 5}`, at(i));
  assert.equal(writes.size, 3);
  // 995..999 wrote instance-0..4 last; the three most recent are instance-2, -3 and -4.
  assert.deepEqual(writes.pendingFor('instance-4'), at(999));
  assert.deepEqual(writes.pendingFor('instance-2'), at(997));
  assert.equal(writes.pendingFor('instance-1'), undefined);
});
