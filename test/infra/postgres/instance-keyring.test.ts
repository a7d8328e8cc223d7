import assert from 'node:assert/strict';
import { after, before, mock, test } from 'node:test';
import pino from 'pino';
import { PostgresInstanceKeyring } from '../../../src/infra/postgres/postgres-instance-keyring.ts';
import { testMasterKey } from '../../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { waitUntil } from '../../projections/support/read-model.ts';
import { initSealing } from '../../../src/infra/sealing.ts';

await initSealing();

let database: TestDatabase;
// Two API processes' keyrings over one database: A destroys, B had the key cached.
let processA: PostgresInstanceKeyring;
let processB: PostgresInstanceKeyring;
const logger = pino({ level: 'silent' });

before(async () => {
  database = await createTestDatabase();
  const { id, publicKey } = testMasterKey();
  processA = new PostgresInstanceKeyring(database.pool, { id, publicKey });
  processB = new PostgresInstanceKeyring(database.pool, { id, publicKey });
  await processA.listen(database.connect, logger);
  await processB.listen(database.connect, logger);
});
after(async () => {
  await processA?.close();
  await processB?.close();
  await database?.drop();
});

const keyRows = async (keyId: string) =>
  (await database.pool.query('SELECT 1 FROM instance_keys WHERE key_id = $1', [keyId])).rowCount;

test('a destroyed key is deleted, and every process drops its cached copy', async () => {
  const key = await processA.create('alpha');
  assert.ok(await processB.find(key.id), 'B caches it');
  await processA.shred(key.id);
  assert.equal(await keyRows(key.id), 0, 'the row is gone, not updated');
  await waitUntil(async () => (await processB.find(key.id)) === undefined);
});

test('a process whose listener was down empties its cache when it listens again', async () => {
  const key = await processA.create('beta');
  assert.ok(await processB.find(key.id));
  // Both listeners' backends are terminated: A's and B's deletion announcements are lost.
  await database.pool.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'stowage listener stowage_instance_key_deleted'`,
  );
  await database.pool.query('DELETE FROM instance_keys WHERE key_id = $1', [key.id]);
  await waitUntil(async () => (await processB.find(key.id)) === undefined);
});

test('keys another process made, found at once, are read together and each is its own', async () => {
  const keys = [];
  for (let n = 0; n < 20; n++) keys.push(await processA.create(`gamma-${n}`));
  const { id, publicKey } = testMasterKey();
  const fresh = new PostgresInstanceKeyring(database.pool, { id, publicKey });
  const query = mock.method(database.pool, 'query');
  try {
    const found = await Promise.all([
      ...keys.map((key) => fresh.find(key.id)),
      fresh.find('no-such-key'),
    ]);

    // The first goes at once, alone; those that arrived meanwhile go in the next one.
    assert.ok(query.mock.callCount() <= 2, `${query.mock.callCount()} statements for 21 keys`);
    assert.deepEqual(found, [...keys, undefined]);
  } finally {
    query.mock.restore();
  }
});

test('a key read just before its deletion was heard is answered but not kept', async () => {
  const [doomed, witness] = [await processA.create('delta'), await processA.create('epsilon')];
  assert.ok(await processB.find(witness.id), 'B caches the witness');
  // B's lookup of the doomed key reads its row, then is held until the deletion has been heard.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const realQuery = database.pool.query.bind(database.pool) as (...args: unknown[]) => unknown;
  let first = true;
  const query = mock.method(database.pool, 'query', async (...args: unknown[]) => {
    const result = await realQuery(...args);
    if (first && (args[0] as { name?: string }).name === 'stowage-find-instance-keys') {
      first = false;
      await held;
    }
    return result;
  });
  try {
    const found = processB.find(doomed.id);
    await processA.shred(doomed.id);
    await processA.shred(witness.id);
    // Deletions are heard in order: once the witness is gone, so is the doomed key's notice.
    await waitUntil(async () => (await processB.find(witness.id)) === undefined);
    release();
    assert.deepEqual(await found, doomed, 'what was read before the deletion is still answered');
    assert.equal(await processB.find(doomed.id), undefined, 'but no copy was kept');
  } finally {
    query.mock.restore();
  }
});
