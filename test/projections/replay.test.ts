import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { replayReadModel, ReplayBusyError } from '../../src/event-sourcing/projection/replay.ts';
import {
  s3ConfigProjection,
  s3ConfigProjectionName,
} from '../../src/projections/s3-config-projection.ts';
import { initSealing } from '../../src/infra/sealing.ts';
import type { EventFeed } from '../../src/event-sourcing/projection/event-feed.ts';
import { s3ConfigChangedChannel } from '../../src/projections/s3-config-table.ts';
import { awsSettings } from '../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { noKeys, projectorOver, reached } from './support/projection-harness.ts';
import { assertReadModelMatchesLog, livePosition, waitUntil } from './support/read-model.ts';
import {
  appendHistories,
  randomHistory,
  seededRandom,
  updated,
} from './support/s3-config-workload.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import {
  claimCheckpointSql,
  writeCheckpointSql,
} from '../../src/event-sourcing/projection/checkpoints.ts';

await initSealing();

function workload(prefix: string, instances: number, length: number, seed: number) {
  const random = seededRandom(seed);
  return new Map(
    Array.from({ length: instances }, (_, n) => {
      const instance = `${prefix}-${n}`;
      return [instance, randomHistory(instance, length, random)];
    }),
  );
}

describe('stowage replay', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  before(async () => {
    database = await createTestDatabase();
    store = new PostgresEventStore(database.pool, database.connect);
    const last = await appendHistories(store, workload('r', 200, 10, 7), { chunk: 3 });
    const projector = projectorOver(database);
    await reached(projector, last);
    await projector.stop();
  });
  after(() => database?.drop());

  const replay = (verify: boolean) =>
    replayReadModel(
      { definition: s3ConfigProjection(noKeys), pool: database.pool, feed: store, maxBatch: 300 },
      { verify },
    );

  test('--verify finds nothing to report in a read model the projector kept', async () => {
    const outcome = await replay(true);
    assert.equal(outcome.events, 2000);
    assert.deepEqual(outcome.differences, []);
    assert.equal(outcome.swapped, false);
    assert.equal(outcome.liveBehind, false);
    await assertNoRebuildLeft(database);
  });

  test('--verify names the instances that differ, and changes nothing', async () => {
    await database.pool.query(
      "UPDATE instance_s3_config SET bucket = 'tampered' WHERE instance_name = 'r-1'",
    );
    await database.pool.query("DELETE FROM instance_s3_config WHERE instance_name = 'r-2'");

    const outcome = await replay(true);

    assert.deepEqual(outcome.differences, [
      { key: 'r-1', columns: ['bucket'] },
      { key: 'r-2', missingFrom: 'live', columns: [] },
    ]);
    const { rows } = await database.pool.query(
      "SELECT bucket FROM instance_s3_config WHERE instance_name = 'r-1'",
    );
    assert.equal(rows[0].bucket, 'tampered');
  });

  test('the CLI prints the differing instances and exits 1, holding no master key and making none', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stowage-replay-'));
    const result = await promisify(execFile)(
      process.execPath,
      ['bin/stowage.js', 'replay', '--verify'],
      { env: { PATH: process.env.PATH, DATABASE_URL: database.url, STOWAGE_DATA_DIR: dataDir } },
    ).then(
      () => assert.fail('expected exit code 1'),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(result.code, 1);
    assert.equal(result.stdout, 'r-1: bucket differ\nr-2: missing from the live read model\n');
    assert.match(result.stderr, /2000 events replayed; 2 instances differ/);
    assert.doesNotMatch(result.stderr, /master key/);
    assert.deepEqual(await readdir(dataDir), []);
    await rm(dataDir, { recursive: true });
  });

  test('a replay swaps the rebuilt table in, announces what changed, and can run again', async () => {
    const listener = await database.connect();
    const announced: string[] = [];
    listener.on('notification', (message) => announced.push(message.payload ?? ''));
    await listener.query(`LISTEN ${s3ConfigChangedChannel}`);
    try {
      const outcome = await replay(false);
      assert.equal(outcome.swapped, true);
      assert.deepEqual(
        outcome.differences.map((difference) => difference.key),
        ['r-1', 'r-2'],
      );
      await assertReadModelMatchesLog(database.pool, store);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(announced.sort(), ['r-1', 'r-2']);
    } finally {
      await listener.end();
    }
    assert.equal((await replay(false)).swapped, true);
    assert.deepEqual((await replay(true)).differences, []);
    await assertNoRebuildLeft(database);
  });

  test('a replay swapped in under a running projector and ongoing appends loses nothing', async () => {
    const projector = projectorOver(database, { maxBatch: 50 });
    try {
      const [, last] = await Promise.all([
        replay(false),
        appendHistories(store, workload('during', 100, 6, 11), { concurrency: 2 }),
      ]);
      await reached(projector, last);
      await assertReadModelMatchesLog(database.pool, store);
      assert.deepEqual(await livePosition(database.pool), last);
    } finally {
      await projector.stop();
    }
  });

  test('only one replay runs at a time', async () => {
    const results = await Promise.allSettled([replay(true), replay(true)]);
    assert.deepEqual(results.map((result) => result.status).sort(), ['fulfilled', 'rejected']);
    const rejected = results.find((result) => result.status === 'rejected');
    assert.ok(rejected?.reason instanceof ReplayBusyError);
  });
});

test('with no live checkpoint, a feed that pauses longer than the idle wait is still read to its end before the swap', async () => {
  const database = await createTestDatabase();
  try {
    const store = new PostgresEventStore(database.pool, database.connect);
    await appendHistories(store, workload('n', 60, 5, 13), { chunk: 3 });
    // Nothing to catch up to (no projector ever ran), so only the replay's own reading decides
    // what the swapped-in table holds. Every third batch comes late, as from a loaded store.
    let batches = 0;
    const slowFeed: EventFeed = {
      logIdentity: () => store.logIdentity(),
      firstRecordedAfter: (category, after) => store.firstRecordedAfter(category, after),
      currentTime: () => store.currentTime(),
      subscribe: (category, from, onBatch, options) =>
        store.subscribe(
          category,
          from,
          async (events) => {
            if (++batches % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 700));
            await onBatch(events);
          },
          options,
        ),
    };
    const outcome = await replayReadModel(
      { definition: s3ConfigProjection(noKeys), pool: database.pool, feed: slowFeed, maxBatch: 40 },
      { verify: false },
    );
    assert.equal(outcome.swapped, true);
    assert.equal(outcome.events, 300);
    await assertReadModelMatchesLog(database.pool, store);
  } finally {
    await database.drop();
  }
});

test('with no live checkpoint, events held back behind an open transaction are waited for, not taken for the end', async () => {
  await replayBehindOpenTransaction();
});

test("held-back events are waited for even when this process's clock is an hour behind the store's", async (t) => {
  // The replay tells held-back events from new ones by when they were recorded, which is the
  // store's clock: measured by this process's, every held-back event would look new.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() - 3_600_000 });
  await replayBehindOpenTransaction();
});

test('the CLI names the open transaction a replay waits for, then finishes once it ends', async () => {
  await withEventsHeldBack(async ({ database, store, holderPid, release }) => {
    const replay = spawn(process.execPath, ['bin/stowage.js', 'replay'], {
      env: { PATH: process.env.PATH, DATABASE_URL: database.url },
    });
    let stderr = '';
    replay.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(replay, 'exit');
    for (let waited = 0; !/waiting for events/.test(stderr) && waited < 30_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(
      stderr,
      new RegExp(
        `waiting for events recorded at .*held back until an older open transaction ends; the oldest open: .*pid ${holderPid} \\(database ${new URL(database.url).pathname.slice(1)}, user postgres, idle in transaction since`,
      ),
    );
    assert.equal(replay.exitCode, null, 'the replay waits while the transaction is open');
    await release();
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    assert.match(stderr, /200 events replayed; rebuilt read model swapped in/);
    await assertReadModelMatchesLog(database.pool, store);
  });
});

test("a projector's first batch, committed while a replay finishes, is caught up to and not overwritten", async () => {
  const database = await createTestDatabase();
  // Plays the live projector: its first batch creates the checkpoint row.
  const firstBatch = await database.connect();
  try {
    const store = new PostgresEventStore(database.pool, database.connect);
    await appendHistories(store, workload('first', 3, 2, 23));
    const log = await store.logIdentity();
    await firstBatch.query(`BEGIN; ${claimCheckpointSql(s3ConfigProjectionName, null, log)}`);

    const replaying = replayReadModel(
      { definition: s3ConfigProjection(noKeys), pool: database.pool, feed: store, maxBatch: 40 },
      { verify: false },
    );
    await waitUntil(
      async () => {
        const { rows } = await database.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return rows[0]!.n > 0;
      },
      { what: "the replay to wait for the first batch's transaction" },
    );
    const late = await store.appendToStream(
      instanceStream('first-late'),
      [updated('first-late', awsSettings, { keyId: 'k', ciphertext: 'c' })],
      'no_stream',
    );
    await firstBatch.query(writeCheckpointSql(s3ConfigProjectionName, late.position, log));
    await firstBatch.query('COMMIT');

    assert.equal((await replaying).swapped, true);
    assert.deepEqual(await livePosition(database.pool), late.position, 'the checkpoint went back');
    await assertReadModelMatchesLog(database.pool, store);
  } finally {
    await firstBatch.end();
    await database.drop();
  }
});

function replayBehindOpenTransaction() {
  return withEventsHeldBack(async ({ database, store, release }) => {
    const replaying = replayReadModel(
      { definition: s3ConfigProjection(noKeys), pool: database.pool, feed: store, maxBatch: 40 },
      { verify: false },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await release();
    const outcome = await replaying;
    assert.equal(outcome.swapped, true);
    assert.equal(outcome.events, 200);
    await assertReadModelMatchesLog(database.pool, store);
  });
}

/**
 * 100 events, then an open transaction, then 100 more: an older transaction still open (here, or
 * in any database of the cluster) holds back every event committed after it began, so the
 * feed's batch comes back short before the log's end until `release` commits it.
 */
async function withEventsHeldBack(
  work: (held: {
    database: TestDatabase;
    store: PostgresEventStore;
    holderPid: number;
    release: () => Promise<void>;
  }) => Promise<void>,
) {
  const database = await createTestDatabase();
  const holder = await database.connect();
  try {
    const store = new PostgresEventStore(database.pool, database.connect);
    await appendHistories(store, workload('early', 20, 5, 17), { chunk: 5 });
    await holder.query('BEGIN');
    const { rows } = await holder.query<{ pid: number }>(
      'SELECT pg_backend_pid() AS pid, pg_current_xact_id()',
    );
    await appendHistories(store, workload('late', 20, 5, 19), { chunk: 5 });
    await work({
      database,
      store,
      holderPid: rows[0]!.pid,
      release: async () => void (await holder.query('COMMIT')),
    });
  } finally {
    await holder.end();
    await database.drop();
  }
}

async function assertNoRebuildLeft(database: TestDatabase) {
  const { rows } = await database.pool.query(
    "SELECT to_regclass('instance_s3_config_rebuild') AS rebuild, (SELECT count(*)::int FROM projection_checkpoints WHERE name <> $1) AS others",
    [s3ConfigProjectionName],
  );
  assert.deepEqual(rows[0], { rebuild: null, others: 0 });
}
