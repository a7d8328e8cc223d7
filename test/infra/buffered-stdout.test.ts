import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The service's stdout is written in blocks; a line still never waits long, nor is lost on exit. */
const script = fileURLToPath(new URL('../fixtures/buffered-logger.ts', import.meta.url));

function run(mode: 'idle' | 'exit') {
  const child = spawn(process.execPath, ['--import', 'tsx', script, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => output, exited };
}

test('a lone line reaches stdout while the process runs, though far from a block', async () => {
  const logger = run('idle');
  try {
    const deadline = Date.now() + 10_000;
    while (!logger.output().includes('a lone line')) {
      assert.ok(Date.now() < deadline, 'the line never came');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The process is still running: the line came through the period's flush, not the exit's.
    assert.equal(logger.child.exitCode, null);
  } finally {
    logger.child.kill('SIGKILL');
    await logger.exited;
  }
});

test('lines pending when the process exits are written before it ends', async () => {
  const logger = run('exit');
  assert.equal(await logger.exited, 0);
  const messages = logger
    .output()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).msg);
  assert.deepEqual(messages, ['a lone line', 'the last line']);
});
