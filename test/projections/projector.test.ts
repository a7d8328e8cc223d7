import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InstanceKeyring } from '../../src/commands/instance-keyring.ts';
import { createUpdateS3ConfigHandler } from '../../src/commands/update-s3-config.handler.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import type { LogPosition } from '../../src/event-sourcing/event-store.ts';
import type { EventFeed } from '../../src/event-sourcing/projection/event-feed.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { createPool } from '../../src/infra/postgres/pool.ts';
import { PostgresInstanceKeyring } from '../../src/infra/postgres/postgres-instance-keyring.ts';
import {
  CheckpointMovedError,
  deleteCheckpoint,
  readCheckpoint,
} from '../../src/event-sourcing/projection/checkpoints.ts';
import { liveTarget } from '../../src/event-sourcing/projection/definition.ts';
import {
  commitBatch,
  PoisonEventError,
} from '../../src/event-sourcing/projection/project-batch.ts';
import { s3ConfigProjection } from '../../src/projections/s3-config-projection.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { disabling, enabling, testMasterKey } from '../support/command-side.ts';
import { capturingLogger, noKeys, projectorOver, reached } from './support/projection-harness.ts';
import {
  assertReadModelMatchesLog,
  livePosition,
  readModel,
  waitUntil,
} from './support/read-model.ts';

const s3Configs = s3ConfigProjection(noKeys);
const live = liveTarget(s3Configs);
import {
  appendHistories,
  disabled,
  newEvent,
  randomHistory,
  seededRandom,
  updated,
} from './support/s3-config-workload.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

const settings = {
  region: 'us-east-1',
  bucket: 'media',
  accessKey: 'AKIAEXAMPLE',
  endpoint: '',
  pathPrefix: '',
};

describe('the S3 configuration projection', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  before(async () => {
    database = await createTestDatabase({ poolSize: 12 });
    store = new PostgresEventStore(database.pool, database.connect);
  });
  after(() => database?.drop());

  test('follows updates, a disable and a re-enable; disabling clears the secret and shreds the key', async () => {
    const keyring = new PostgresInstanceKeyring(database.pool, testMasterKey());
    // A command side whose own key destruction never happens, so that the projection's shows.
    const forgetful: InstanceKeyring = {
      create: (instance) => keyring.create(instance),
      find: (keyId) => keyring.find(keyId),
      discard: (keyId) => keyring.discard(keyId),
      shred: async () => {},
    };
    const handle = createUpdateS3ConfigHandler({ eventStore: store, keyring: forgetful });
    await handle(enabling('alpha', 'first-secret'));
    await handle(enabling('alpha', undefined, { pathPrefix: 'moved/' }));
    const disabled = await handle(disabling('alpha'));
    const [firstKey] = await keyIds(database);
    assert.ok(firstKey, 'the command side left the key alive');

    const projector = projectorOver(database, { keyring });
    try {
      await reached(projector, disabled.position!);
      const row = (await readModel(database.pool)).get('alpha');
      assert.equal(row?.enabled, false);
      assert.equal(row?.secret, null);
      assert.equal(row?.revision, 2);
      assert.ok(!(await keyIds(database)).includes(firstKey), 'the key row is deleted');

      const reenabling = await handle(enabling('alpha', 'second-secret', { bucket: 'other' }));
      await reached(projector, reenabling.position!);
      const reenabled = (await readModel(database.pool)).get('alpha');
      assert.equal(reenabled?.enabled, true);
      assert.equal(reenabled?.bucket, 'other');
      assert.equal(reenabled?.secret?.revision, 3);
      assert.notEqual(reenabled?.secret?.keyId, firstKey);
      await assertReadModelMatchesLog(database.pool, store);

      const { rows } = await database.pool.query(
        "SELECT updated_by, updated_at FROM instance_s3_config WHERE instance_name = 'alpha'",
      );
      assert.deepEqual(rows[0].updated_by, { tokenKind: 'instance', tokenId: 'token-1' });
      assert.ok(rows[0].updated_at instanceof Date);
    } finally {
      await projector.stop();
    }
  });

  test('a batch applied again changes nothing', async () => {
    await appendHistories(store, new Map([['beta', randomHistory('beta', 12, seededRandom(1))]]));
    const projector = projectorOver(database);
    const events = await store.readStream(instanceStream('beta'));
    await reached(projector, events.at(-1)!.position);
    await projector.stop();
    const before = await database.pool.query('SELECT * FROM instance_s3_config ORDER BY 1');

    // A writer of its own checkpoint, so that the fence lets it through to the rows.
    const replayed = await commitBatch(
      database.pool,
      {
        definition: s3Configs,
        target: { ...live, checkpoint: 'test-reapply', announce: false },
        from: null,
        log: await store.logIdentity(),
      },
      events,
    );

    assert.equal(replayed.applied, 0);
    assert.equal(replayed.alreadyApplied, events.length);
    const afterwards = await database.pool.query('SELECT * FROM instance_s3_config ORDER BY 1');
    assert.deepEqual(afterwards.rows, before.rows);
  });

  test('the checkpoint and the announcement are sent as literals: quotes and backslashes arrive as they are', async () => {
    const instance = "o'brien\\'; SELECT 1 --";
    await appendHistories(
      store,
      new Map([[instance, randomHistory(instance, 2, seededRandom(3))]]),
    );
    const events = await store.readStream(instanceStream(instance));
    const checkpoint = "test-quote's \\ checkpoint";
    const log = { store: 'postgres' as const, id: "another'log\\" };
    const listener = await database.connect();
    const heard: string[] = [];
    listener.on('notification', ({ payload }) => heard.push(payload ?? ''));
    await listener.query(`LISTEN ${s3Configs.changedChannel}`);
    try {
      await commitBatch(
        database.pool,
        { definition: s3Configs, target: { ...live, checkpoint }, from: null, log },
        events,
      );
      assert.deepEqual(await readCheckpoint(database.pool, checkpoint), {
        name: checkpoint,
        position: events.at(-1)!.position,
        log,
      });
      await waitUntil(async () => heard.includes(instance));
    } finally {
      await listener.end();
      await deleteCheckpoint(database.pool, checkpoint);
    }
  });

  test('a writer that starts from a checkpoint someone else moved is fenced off and writes nothing', async () => {
    const start = await livePosition(database.pool);
    await appendHistories(store, new Map([['gamma', randomHistory('gamma', 3, seededRandom(2))]]));
    const events = await store.readStream(instanceStream('gamma'));
    const log = await store.logIdentity();
    const run = { definition: s3Configs, target: live, from: start, log };
    await commitBatch(database.pool, run, events.slice(0, 2));

    await assert.rejects(commitBatch(database.pool, run, events), CheckpointMovedError);
    assert.equal((await readModel(database.pool)).get('gamma')?.revision, 1);
    assert.deepEqual(await livePosition(database.pool), events[1]!.position);
  });

  test('an unknown event type is skipped and counted, and still moves the revision on', async () => {
    const stream = instanceStream('delta');
    await store.appendToStream(
      stream,
      [updated('delta', settings, { keyId: 'k1', ciphertext: 'c1' })],
      'no_stream',
    );
    await store.appendToStream(stream, [newEvent('S3ConfigRenamed', { to: 'epsilon' })], 0);
    const last = await store.appendToStream(
      stream,
      [updated('delta', { ...settings, bucket: 'later' }, 'unchanged')],
      1,
    );
    const { logger, lines } = capturingLogger();
    const projector = projectorOver(database, { logger });
    try {
      await reached(projector, last.position);
      assert.equal(projector.stats().unknown, 1);
      const row = (await readModel(database.pool)).get('delta');
      assert.equal(row?.revision, 2);
      assert.equal(row?.bucket, 'later');
      assert.deepEqual(row?.secret, { keyId: 'k1', ciphertext: 'c1', revision: 0 });
      assert.ok(
        lines().some((line) => (line.types as string[] | undefined)?.includes('S3ConfigRenamed')),
      );
      await assertReadModelMatchesLog(database.pool, store);
    } finally {
      await projector.stop();
    }
  });

  test('appends from several connections while the projection runs live are all projected', async () => {
    const projector = projectorOver(database, { maxBatch: 50 });
    const writers = [1, 2, 3, 4].map(() => createWriterPool(database));
    try {
      const positions = await Promise.all(
        writers.map((writer, index) =>
          appendHistories(
            writer.store,
            new Map(
              Array.from({ length: 25 }, (_, n) => {
                const instance = `live-${index}-${n}`;
                return [instance, randomHistory(instance, 8, seededRandom(100 * index + n))];
              }),
            ),
            { concurrency: 4 },
          ),
        ),
      );
      for (const position of positions) await reached(projector, position);
      await assertReadModelMatchesLog(database.pool, store);
      const { rows } = await database.pool.query(
        "SELECT count(*)::int AS n FROM instance_s3_config WHERE instance_name LIKE 'live-%'",
      );
      assert.equal(rows[0].n, 100);
    } finally {
      await projector.stop();
      await Promise.all(writers.map((writer) => writer.end()));
    }
  });

  test("a second projector stands by, and takes over once the first one's lock connection dies", async () => {
    const first = projectorOver(database);
    await waitUntil(() => first.stats().active, { what: 'the first projector to take the lock' });
    const second = projectorOver(database);
    try {
      await waitUntil(async () => (await advisoryLockWaiters(database)) === 1, {
        what: 'the second projector to wait for the lock',
      });
      assert.equal(second.stats().active, false);
      const before = await store.appendToStream(
        instanceStream('zeta'),
        [updated('zeta', settings, { keyId: 'kz', ciphertext: 'cz' })],
        'no_stream',
      );
      await reached(first, before.position);

      await database.pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      await waitUntil(() => second.stats().active, { what: 'the standby to take over' });
      const afterwards = await store.appendToStream(
        instanceStream('zeta'),
        [disabled('zeta', 'kz')],
        0,
      );
      await reached(second, afterwards.position);
      assert.equal((await readModel(database.pool)).get('zeta')?.enabled, false);
      await waitUntil(async () => (await advisoryLockWaiters(database)) === 1, {
        what: 'the first projector to stand by in turn',
      });
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});

describe('a poison event', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database?.drop());

  test('stops the projection with a log line naming it, the checkpoint just before it', async () => {
    const store = new PostgresEventStore(database.pool, database.connect);
    const stream = instanceStream('poisoned');
    const good = await store.appendToStream(
      stream,
      [updated('poisoned', settings, { keyId: 'k', ciphertext: 'c' })],
      'no_stream',
    );
    await store.appendToStream(
      stream,
      [newEvent('S3ConfigUpdated', { schemaVersion: 1, instance: 'poisoned' })],
      0,
    );
    await store.appendToStream(stream, [disabled('poisoned', 'k')], 1);
    const { logger, lines } = capturingLogger();

    const projector = projectorOver(database, { logger });

    await assert.rejects(projector.done, (error: unknown) => {
      assert.ok(error instanceof PoisonEventError);
      assert.equal(error.event.stream, stream);
      assert.equal(error.event.revision, 1);
      return true;
    });
    assert.deepEqual(await livePosition(database.pool), good.position);
    assert.equal((await readModel(database.pool)).get('poisoned')?.enabled, true);
    const logged = lines().find((line) => line.level === 50);
    assert.match(String(logged?.msg), /instance-s3-poisoned at revision 1/);
    assert.equal(await advisoryLocks(database, true), 0, 'the lock is released');
  });
});

describe('a feed that keeps failing', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  before(async () => {
    database = await createTestDatabase();
    store = new PostgresEventStore(database.pool, database.connect);
  });
  after(() => database?.drop());

  const retryDelays = (lines: () => Record<string, unknown>[]) =>
    lines()
      .filter((line) => line.msg === 'projection failed; retrying')
      .map((line) => line.retryInMs);

  test('waits longer after each failure in a row, and the shortest delay again after progress', async () => {
    const instances = ['backoff-a', 'backoff-b', 'backoff-c'];
    let last: LogPosition | null = null;
    for (const instance of instances) {
      const appended = await store.appendToStream(
        instanceStream(instance),
        [updated(instance, settings, { keyId: 'k', ciphertext: 'c' })],
        'no_stream',
      );
      last = appended.position;
    }
    const { logger, lines } = capturingLogger();
    let refusals = 2;
    // Refuses twice before reading anything, then breaks after every batch it delivers.
    const feed = failingFeed(store, async (subscribe) => {
      if (refusals-- > 0) throw new Error('the feed is not there yet');
      await subscribe(async () => {
        throw new Error('the feed broke after a batch');
      });
    });

    const projector = projectorOver(database, { logger, feed, maxBatch: 1 });
    try {
      await reached(projector, last);
      await waitUntil(() => retryDelays(lines).length === 5, { what: 'five failures' });
      assert.deepEqual(retryDelays(lines), [200, 400, 200, 200, 200]);
      assert.deepEqual(
        [...(await readModel(database.pool)).keys()]
          .filter((name) => name.startsWith('backoff-'))
          .sort(),
        instances,
      );
    } finally {
      await projector.stop();
    }
  });

  test('one that hands over to a standby counts no failures while it stands by in turn', async () => {
    const failing = projectorOver(database, {
      feed: failingFeed(store, async () => {
        throw new Error('the feed is not there');
      }),
    });
    await waitUntil(() => failing.stats().failuresInARow >= 3, { what: 'three failures' });
    const standby = projectorOver(database);
    try {
      await waitUntil(() => standby.stats().active, { what: 'the standby to take over' });
      await waitUntil(async () => (await advisoryLockWaiters(database)) === 1, {
        what: 'the failing projector to stand by',
      });
      assert.deepEqual(
        { active: failing.stats().active, failuresInARow: failing.stats().failuresInARow },
        { active: false, failuresInARow: 0 },
      );
    } finally {
      await Promise.all([failing.stop(), standby.stop()]);
    }
  });
});

/**
 * The store's feed, its subscriptions run through `run`: which may fail before subscribing, or
 * subscribe with an `afterBatch` step that runs once each batch is committed.
 */
function failingFeed(
  feed: EventFeed,
  run: (subscribe: (afterBatch: () => Promise<void>) => Promise<void>) => Promise<void>,
): EventFeed {
  return {
    logIdentity: () => feed.logIdentity(),
    firstRecordedAfter: (category, after) => feed.firstRecordedAfter(category, after),
    currentTime: () => feed.currentTime(),
    subscribe: (category, after, onBatch, options) =>
      run((afterBatch) =>
        feed.subscribe(
          category,
          after,
          async (events) => {
            await onBatch(events);
            await afterBatch();
          },
          options,
        ),
      ),
  };
}

async function keyIds(database: TestDatabase): Promise<string[]> {
  const { rows } = await database.pool.query<{ key_id: string }>(
    'SELECT key_id FROM instance_keys ORDER BY created_at',
  );
  return rows.map((row) => row.key_id);
}

async function advisoryLocks(database: TestDatabase, granted: boolean): Promise<number> {
  const { rows } = await database.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
     WHERE locktype = 'advisory' AND granted = $1
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [granted],
  );
  return rows[0]!.n;
}

const advisoryLockWaiters = (database: TestDatabase) => advisoryLocks(database, false);

function createWriterPool(database: TestDatabase) {
  const pool = createPool(database.url, 2);
  return {
    store: new PostgresEventStore(pool, database.connect),
    end: () => pool.end(),
  };
}
