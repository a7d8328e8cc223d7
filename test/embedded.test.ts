import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from './support/stowage-process.ts';

const run = promisify(execFile);
const stowage = new URL('../bin/stowage.js', import.meta.url).pathname;

async function waitUntilReady(url: string, withinMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < withinMs) {
    const ready = await fetch(`${url}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not ready within ${withinMs} ms`);
}

test('npm start with nothing configured: embedded PostgreSQL, ready, admin beside it, data kept across restarts', async () => {
  // PostgreSQL runs as the postgres user when the tests run as root: it must reach the directory.
  const dataDir = await mkdtemp(join(tmpdir(), 'stowage-embedded-'));
  await chmod(dataDir, 0o755);
  const env = {
    ...process.env,
    DATABASE_URL: '',
    KAFKA_BROKERS: '',
    STOWAGE_DATA_DIR: dataDir,
    STOWAGE_EMBEDDED_PG_PORT: String(await freePort()),
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
  };
  const url = `http://127.0.0.1:${env.PORT}`;
  const running = new Set<ReturnType<typeof spawn>>();
  const start = () => {
    const child = spawn(process.execPath, [stowage, 'serve'], { env, stdio: 'ignore' });
    running.add(child);
    child.once('exit', () => running.delete(child));
    return child;
  };
  const stop = async (child: ReturnType<typeof start>) => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    return exited;
  };
  try {
    const first = start();
    assert.ok((await waitUntilReady(url, 30_000)) < 30_000);
    const { stdout } = await run(process.execPath, [stowage, 'admin', 'create-account', 'acme'], {
      env,
    });
    assert.equal(JSON.parse(stdout).account.name, 'acme');
    assert.equal(await stop(first), 0);

    const second = start();
    await waitUntilReady(url, 30_000);
    const again = await run(process.execPath, [stowage, 'admin', 'create-account', 'acme'], {
      env,
    }).catch((error: { code: number; stderr: string }) => error);
    assert.ok('code' in again && again.code === 1, 'the account from the first run is still there');
    assert.match(again.stderr, /already exists/);
    assert.equal(await stop(second), 0);
  } finally {
    // A failed assertion must not leave a server (and its embedded PostgreSQL) running: it would
    // keep the test file alive and hold the data directory.
    await Promise.all([...running].map(stop));
    await rm(dataDir, { recursive: true, force: true });
  }
});
