import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressLine, progressReporter } from '../../src/cli/replay-progress.ts';

test('a progress line gives events done, the rate, and an ETA once the total is known', () => {
  assert.equal(progressLine(30_000, 1500), 'replay: 30000 events, 20000 events/s');
  assert.equal(
    progressLine(30_000, 1500, 100_000),
    'replay: 30000/100000 events, 20000 events/s, ETA 4s',
  );
});

test('progress is written at most once per interval, so short replays print nothing', () => {
  let clock = 0;
  const lines: string[] = [];
  const report = progressReporter((line) => lines.push(line), { now: () => clock });
  for (const [at, events] of [
    [400, 10],
    [900, 20],
    [1000, 30],
    [1500, 40],
    [2100, 50],
  ]) {
    clock = at!;
    report(events!);
  }
  assert.deepEqual(lines, ['replay: 30 events, 30 events/s', 'replay: 50 events, 24 events/s']);
});
