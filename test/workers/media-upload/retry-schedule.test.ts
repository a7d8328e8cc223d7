import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextStep } from '../../../src/workers/media-upload/retry-schedule.ts';

const policy = { firstDelayMs: 250, maxDelayMs: 4_000, maxElapsedMs: 30_000 };

test('delays double from the first, with jitter in the upper half, up to the cap', () => {
  const delays = [1, 2, 3, 4, 5, 6].map((failures) =>
    nextStep({ firstFailureAt: 0, failures }, 0, policy, () => 1),
  );
  assert.deepEqual(
    delays,
    [250, 500, 1000, 2000, 4000, 4000].map((retryInMs) => ({ retryInMs })),
  );
  assert.deepEqual(
    nextStep({ firstFailureAt: 0, failures: 3 }, 0, policy, () => 0),
    {
      retryInMs: 500,
    },
  );
});

test('gives up once the next attempt would come after the bound', () => {
  assert.deepEqual(
    nextStep({ firstFailureAt: 0, failures: 9 }, 27_000, policy, () => 0),
    {
      retryInMs: 2000,
    },
  );
  assert.deepEqual(
    nextStep({ firstFailureAt: 0, failures: 9 }, 28_500, policy, () => 0),
    {
      giveUp: true,
    },
  );
  assert.deepEqual(
    nextStep({ firstFailureAt: 0, failures: 1 }, 0, { ...policy, maxElapsedMs: 0 }, () => 0),
    { giveUp: true },
  );
});
