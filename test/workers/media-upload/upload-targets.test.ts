import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import type { Pool } from '../../../src/infra/postgres/pool.ts';
import { UploadTargets } from '../../../src/workers/media-upload/upload-targets.ts';
import { commandSide, disabling, enabling } from '../../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { projectorOver, reached } from '../../projections/support/projection-harness.ts';
import { waitUntil } from '../../projections/support/read-model.ts';
import type { Projector } from '../../../src/event-sourcing/projection/projector.ts';
import { initSealing } from '../../../src/infra/sealing.ts';
await initSealing();

let database: TestDatabase;
let side: ReturnType<typeof commandSide>;
let projector: Projector;
let targets: UploadTargets;
let reads = 0;
let countingPool: Pool;
const agents = createGuardedAgents({ allowPrivate: true });

before(async () => {
  database = await createTestDatabase();
  side = commandSide(database);
  projector = projectorOver(database, { keyring: side.keyring });
  // Counts the read-model reads, to tell a cached answer from a fresh one.
  const counting = new Proxy(database.pool, {
    get(pool, property) {
      if (property === 'query') {
        return (...args: Parameters<Pool['query']>) => {
          reads++;
          return (pool.query as (...a: unknown[]) => unknown)(...args);
        };
      }
      return Reflect.get(pool, property);
    },
  });
  countingPool = counting;
  targets = newTargets();
  await targets.start();
});

after(async () => {
  await targets?.close();
  await projector?.stop();
  agents.destroy();
  await database?.drop();
});

/** Upload targets reading through the counting pool; started by the caller. */
function newTargets(bounds: { maxClients?: number } = {}): UploadTargets {
  return new UploadTargets({
    pool: countingPool,
    connect: database.connect,
    keys: side.keyring,
    connection: { ...agents, timeoutMs: 1_000, exchangeWithinMs: 60_000 },
    logger: pino({ level: 'silent' }),
    ...bounds,
  });
}

async function change(request: Parameters<typeof side.handle>[0]) {
  const outcome = await side.handle(request);
  await reached(projector, outcome.position ?? null);
}

test('a configuration read is kept, and read again only after the projection announces a change', async () => {
  await change(enabling('alpha', 'secret-one', { pathPrefix: 'one/' }));
  // The change's announcement may still be on its way, and when heard it rightly drops what was
  // read before it: the first lookup to outlive it is the one kept.
  let first: Awaited<ReturnType<typeof targets.find>>;
  await waitUntil(async () => {
    first = await targets.find('alpha');
    return (await targets.find('alpha')) === first;
  });
  assert.equal(first?.pathPrefix, 'one/');
  assert.equal(
    await first.client.config.credentials().then((c) => c.secretAccessKey),
    'secret-one',
  );
  const readsAfterFirst = reads;
  assert.equal(await targets.find('alpha'), first);
  assert.equal(reads, readsAfterFirst, 'answered from memory');

  await change(enabling('alpha', 'secret-two', { pathPrefix: 'two/' }));
  await waitUntil(async () => (await targets.find('alpha'))?.pathPrefix === 'two/');
  const second = await targets.find('alpha');
  assert.equal(
    await second!.client.config.credentials().then((c) => c.secretAccessKey),
    'secret-two',
  );

  await change(disabling('alpha'));
  await waitUntil(async () => (await targets.find('alpha')) === undefined);
  assert.equal(await targets.find('never-configured'), undefined);
});

test('while the change listener is down nothing is kept, so no change can be missed', async () => {
  await change(enabling('beta', 'secret'));
  await targets.find('beta');
  const { rows } = await database.pool.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'stowage listener stowage_s3_config_changed' AND datname = current_database()",
  );
  assert.equal(rows.length, 1);
  await database.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  await new Promise((resolve) => setTimeout(resolve, 100));

  const before = reads;
  await targets.find('beta');
  await targets.find('beta');
  assert.equal(reads - before, 2, 'each lookup read the row');

  // It listens again within a second or so, and caching resumes.
  await waitUntil(async () => {
    const start = reads;
    await targets.find('beta');
    await targets.find('beta');
    return reads - start === 0;
  });
});

test('past the clients bound an instance costs a new client, not a read; a batch is read in one query', async () => {
  const few = newTargets({ maxClients: 1 });
  try {
    await change(enabling('gamma', 'secret-g', { pathPrefix: 'g/' }));
    await change(enabling('delta', 'secret-d', { pathPrefix: 'd/' }));
    // Listening only now: the two changes' announcements, committed already, are never heard. One
    // heard during the batch's read would rightly make it forget what it read, and read again.
    await few.start();
    const before = reads;
    const readFrom = few.readBatch(['gamma', 'delta', 'gamma']);
    const gamma = await few.find('gamma', readFrom);
    const delta = await few.find('delta', readFrom);
    assert.equal(reads - before, 1, 'both rows in one query');
    assert.equal(delta?.pathPrefix, 'd/');
    const again = await few.find('gamma');
    assert.equal(reads - before, 1, 'the configuration was kept');
    assert.notEqual(again, gamma, 'its client was not: a new one');
    assert.equal(
      await again!.client.config.credentials().then((c) => c.secretAccessKey),
      'secret-g',
    );

    await change(disabling('gamma'));
    await waitUntil(async () => (await few.find('gamma')) === undefined);
  } finally {
    await few.close();
  }
});

test("a batch's messages use configurations read after it arrived, announced or not", async () => {
  const late = newTargets();
  try {
    await change(enabling('epsilon', 'secret-e', { pathPrefix: 'e/' }));
    await change(enabling('zeta', 'secret-z', { pathPrefix: 'z/' }));
    await late.start();
    const kept = await late.find('epsilon', late.readBatch(['epsilon']));
    assert.equal(kept?.pathPrefix, 'e/');
    const zeta = await late.find('zeta');

    // A disable made visible in the read model whose announcement has not reached this process
    // (written here without one): what is kept is stale until it is heard.
    await database.pool.query(
      `UPDATE instance_s3_config SET enabled = false, revision = revision + 1,
         secret_key_id = NULL, secret_ciphertext = NULL, secret_revision = NULL
       WHERE instance_name = $1`,
      ['epsilon'],
    );
    assert.equal(await late.find('epsilon'), kept, 'kept, as nothing was heard');

    // The batch fetched after the disable reads its instances again, in one query.
    let before = reads;
    const readFrom = late.readBatch(['epsilon', 'zeta']);
    assert.equal(await late.find('epsilon', readFrom), undefined);
    assert.equal(await late.find('zeta', readFrom), zeta, 'unchanged: neither opened nor rebuilt');
    assert.equal(reads - before, 1);

    // A message whose instance its key did not name reads its own row.
    before = reads;
    const unkeyed = late.readBatch([]);
    assert.equal(reads - before, 0);
    assert.equal(await late.find('zeta', unkeyed), zeta);
    assert.equal(reads - before, 1);
  } finally {
    await late.close();
  }
});
