import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { migrate } from '../../../src/infra/postgres/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase({ migrated: false });
});
after(() => database?.drop());

test('migrations apply from an empty database, in order, and a second run is a no-op', async () => {
  const files = (await readdir(new URL('../../../src/infra/postgres/migrations/', import.meta.url)))
    .filter((name) => name.endsWith('.sql'))
    .sort();

  assert.deepEqual(await migrate(database.pool), files);
  assert.deepEqual(await migrate(database.pool), []);

  const { rows } = await database.pool.query<{ name: string }>(
    'SELECT name FROM schema_migrations ORDER BY name',
  );
  assert.deepEqual(
    rows.map((row) => row.name),
    files,
  );
  const { rows: tables } = await database.pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_name IN ('events', 'event_streams')",
  );
  assert.equal(tables.length, 2);
});

test('processes that migrate at the same time apply each migration once', async () => {
  const fresh = await createTestDatabase({ migrated: false, poolSize: 8 });
  try {
    const results = await Promise.all([1, 2, 3, 4].map(() => migrate(fresh.pool)));
    const applied = results.flat();
    assert.equal(applied.length, new Set(applied).size);
    assert.ok(applied.length > 0);
  } finally {
    await fresh.drop();
  }
});
