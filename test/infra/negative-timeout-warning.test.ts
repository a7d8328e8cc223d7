import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/infra/negative-timeout-warning.ts';

test("kafkajs's negative timer delay raises no warning; every other warning still does", async () => {
  const seen: string[] = [];
  const onWarning = (warning: Error) => seen.push(warning.name);
  process.on('warning', onWarning);
  try {
    clearTimeout(setTimeout(() => {}, -1 - Date.now()));
    process.emitWarning('something to act on', 'SomeWarning');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['SomeWarning']);
  } finally {
    process.off('warning', onWarning);
  }
});
