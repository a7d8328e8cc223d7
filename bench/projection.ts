// The projection benchmark (npm run bench:projection; see bench/README.md). Needs PG_ADMIN_URL:
// it works in a throwaway database and drops it afterwards.
//
//   node --import tsx bench/projection.ts [--naive-events 10000] [--lag-seconds 10]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import pino from 'pino';
import type { LogPosition } from '../src/commands/event-store.ts';
import { instanceStream, instanceStreamCategory } from '../src/domain/s3-config.ts';
import { PostgresEventStore } from '../src/infra/event-store/postgres-event-store.ts';
import { createPool, type Pool } from '../src/infra/postgres/pool.ts';
import { PostgresInstanceKeyring } from '../src/infra/postgres/postgres-instance-keyring.ts';
import { commitBatch, liveProjection, type KeyShredder } from '../src/projections/project-batch.ts';
import { startProjector } from '../src/projections/projector.ts';
import { replayReadModel } from '../src/projections/replay.ts';
import { s3ConfigChangedChannel } from '../src/projections/s3-config-table.ts';
import {
  appendHistories,
  randomHistory,
  seededRandom,
  updated,
} from '../test/projections/support/s3-config-workload.ts';
import { testMasterKey } from '../test/support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts';
import { initSealing } from '../src/infra/sealing.ts';

await initSealing();

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '10000' },
    'events-per-instance': { type: 'string', default: '10' },
    'naive-events': { type: 'string', default: '10000' },
    'lag-seconds': { type: 'string', default: '10' },
    'appends-per-second': { type: 'string', default: '500' },
  },
});
const instances = Number(values.instances);
const eventsPerInstance = Number(values['events-per-instance']);
const naiveEvents = Number(values['naive-events']);
const lagSeconds = Number(values['lag-seconds']);
const appendsPerSecond = Number(values['appends-per-second']);

const log = (line: string) => process.stdout.write(`${line}\n`);

const database = await createTestDatabase({ poolSize: 10 });
try {
  const store = new PostgresEventStore(database.pool, database.connect);
  const keyring = new PostgresInstanceKeyring(database.pool, testMasterKey());
  const total = instances * eventsPerInstance;

  let started = performance.now();
  await appendWorkload(store);
  log(`appended ${total} events over ${instances} instances in ${seconds(started)} s`);
  // As autovacuum would soon after such a load: without statistics the planner reads the log
  // through a bitmap scan and a sort of everything after the checkpoint, for every batch.
  await database.pool.query('ANALYZE events');

  started = performance.now();
  const replayed = await replayReadModel(
    { pool: database.pool, feed: store, keyring },
    { verify: false },
  );
  const replaySeconds = (performance.now() - started) / 1000;
  const replayRate = replayed.events / replaySeconds;
  log(
    `replay (batched, stowage replay): ${replayed.events} events in ${replaySeconds.toFixed(2)} s = ${Math.round(replayRate)} events/s`,
  );

  const lag = await measureLiveLag(database, store, keyring);
  log(
    `live lag at ${appendsPerSecond} appends/s for ${lagSeconds} s (${lag.samples} appends): p50 ${lag.p50.toFixed(1)} ms, p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms`,
  );

  const naive = await naiveReplay(database.pool, store, keyring);
  const naiveRate = naive.events / naive.seconds;
  log(
    `replay (naive, one event per transaction): ${naive.events} events in ${naive.seconds.toFixed(2)} s = ${Math.round(naiveRate)} events/s`,
  );
  log(`batched / naive: ${(replayRate / naiveRate).toFixed(1)}x`);
  log(
    `targets: replay >= 20000 events/s ${replayRate >= 20_000 ? 'met' : 'MISSED'}; lag p99 <= 50 ms ${lag.p99 <= 50 ? 'met' : 'MISSED'}`,
  );
} finally {
  await database.drop();
}

async function appendWorkload(store: PostgresEventStore): Promise<void> {
  const random = seededRandom(42);
  const histories = new Map(
    Array.from({ length: instances }, (_, n) => {
      const instance = `bench-${n}`;
      return [instance, randomHistory(instance, eventsPerInstance, random)];
    }),
  );
  await appendHistories(store, histories, { chunk: Math.ceil(eventsPerInstance / 2) });
}

/**
 * Append → row visible: a steady stream of single-event appends to distinct instances, each timed
 * from just before its append to the projection's NOTIFY for its instance (sent on commit).
 */
async function measureLiveLag(
  database: TestDatabase,
  store: PostgresEventStore,
  keyring: KeyShredder,
) {
  const projector = startProjector({
    pool: database.pool,
    feed: store,
    keyring,
    connect: database.connect,
    logger: pino({ level: 'warn' }),
  });
  const writers = createPool(database.url, 8);
  const writer = new PostgresEventStore(writers, database.connect);
  const listener: pg.Client = await database.connect();
  const sentAt = new Map<string, number>();
  const lags: number[] = [];
  listener.on('notification', ({ payload }) => {
    const sent = payload && sentAt.get(payload);
    if (sent) {
      lags.push(performance.now() - sent);
      sentAt.delete(payload);
    }
  });
  await listener.query(`LISTEN ${s3ConfigChangedChannel}`);
  try {
    const appends: Promise<unknown>[] = [];
    const count = appendsPerSecond * lagSeconds;
    const start = performance.now();
    for (let n = 0; n < count; n++) {
      const due = start + (n * 1000) / appendsPerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      appends.push(appendOne(writer, `bench-${n % instances}`, sentAt));
    }
    await Promise.all(appends);
    const deadline = performance.now() + 5000;
    while (sentAt.size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (sentAt.size > 0) throw new Error(`${sentAt.size} appends were never projected`);
  } finally {
    await listener.end();
    await writers.end();
    await projector.stop();
  }
  lags.sort((a, b) => a - b);
  const at = (quantile: number) =>
    lags[Math.min(lags.length - 1, Math.floor(quantile * lags.length))]!;
  return { samples: lags.length, p50: at(0.5), p99: at(0.99), max: lags[lags.length - 1]! };
}

async function appendOne(store: PostgresEventStore, instance: string, sentAt: Map<string, number>) {
  const stream = instanceStream(instance);
  const current = await store.readStream(stream);
  const settings = {
    region: 'us-east-1',
    bucket: `live-${current.length}`,
    accessKey: 'AKIABENCH',
    endpoint: '',
    pathPrefix: '',
  };
  const enabled = current.at(-1)?.type === 'S3ConfigUpdated';
  const secret = enabled ? 'unchanged' : { keyId: `live-${instance}`, ciphertext: 'sealed' };
  sentAt.set(instance, performance.now());
  await store.appendToStream(stream, [updated(instance, settings, secret)], current.length - 1);
}

/** The baseline: the same projection code, but one event per transaction. */
async function naiveReplay(pool: Pool, store: PostgresEventStore, keyring: KeyShredder) {
  await pool.query('TRUNCATE instance_s3_config');
  const target = { ...liveProjection, checkpoint: 'bench:naive', announce: false };
  let checkpoint: LogPosition | null = null;
  let events = 0;
  const log = await store.logIdentity();
  const started = performance.now();
  while (events < naiveEvents) {
    const page = await store.readCategory(
      instanceStreamCategory,
      checkpoint,
      Math.min(5000, naiveEvents - events),
    );
    if (page.length === 0) break;
    for (const event of page) {
      await commitBatch(pool, target, checkpoint, [event], keyring, log);
      checkpoint = event.position;
      events++;
    }
  }
  return { events, seconds: (performance.now() - started) / 1000 };
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}
