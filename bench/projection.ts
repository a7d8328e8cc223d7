// The projection benchmark (npm run bench:projection; see bench/README.md). Needs PG_ADMIN_URL:
// it works in a throwaway database and drops it afterwards.
//
//   node --import tsx bench/projection.ts [--naive-events 10000] [--lag-seconds 10]
import { openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { LogPosition } from '../src/event-sourcing/event-store.ts';
import { instanceStream, instanceStreamCategory } from '../src/domain/s3-config.ts';
import { PostgresEventStore } from '../src/infra/event-store/postgres-event-store.ts';
import { createPool, type Pool } from '../src/infra/postgres/pool.ts';
import { PostgresInstanceKeyring } from '../src/infra/postgres/postgres-instance-keyring.ts';
import { liveTarget } from '../src/event-sourcing/projection/definition.ts';
import { commitBatch } from '../src/event-sourcing/projection/project-batch.ts';
import { replayReadModel } from '../src/event-sourcing/projection/replay.ts';
import {
  s3ConfigProjection,
  type S3ConfigProjection,
} from '../src/projections/s3-config-projection.ts';
import { s3ConfigChangedChannel } from '../src/projections/s3-config-table.ts';
import {
  appendHistories,
  randomHistory,
  seededRandom,
  updated,
} from '../test/projections/support/s3-config-workload.ts';
import { testMasterKey } from '../test/support/command-side.ts';
import { keypairToJson } from '../src/infra/master-keys.ts';
import { generateKeypair } from '../src/infra/sealing.ts';
import { startServer, stopAll } from './support/processes.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/database.ts';
import { BackendCpu } from './support/pg-backends.ts';
import { printYardstick } from './support/yardstick.ts';
import { initSealing } from '../src/infra/sealing.ts';
await initSealing();

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '10000' },
    'events-per-instance': { type: 'string', default: '10' },
    'naive-events': { type: 'string', default: '10000' },
    'lag-seconds': { type: 'string', default: '10' },
    'appends-per-second': { type: 'string', default: '500' },
    // Larger logs whose replay is timed too, to show how its cost grows (same events per instance).
    'growth-events': { type: 'string', default: '1000000' },
  },
});
const instances = Number(values.instances);
const eventsPerInstance = Number(values['events-per-instance']);
const naiveEvents = Number(values['naive-events']);
const lagSeconds = Number(values['lag-seconds']);
const appendsPerSecond = Number(values['appends-per-second']);
const growthEvents = values['growth-events']
  .split(',')
  .filter(Boolean)
  .map((events) => Number(events));

const log = (line: string) => process.stdout.write(`${line}\n`);

printYardstick('start');
const growth: ReplayMeasure[] = [];
const database = await createTestDatabase({ poolSize: 10 });
let replayRate: number;
let lag: Awaited<ReturnType<typeof measureLiveLag>>;
let naiveRate: number;
try {
  const store = new PostgresEventStore(database.pool, database.connect);
  const s3Configs = s3ConfigProjection(new PostgresInstanceKeyring(database.pool, testMasterKey()));
  const replayed = await loadAndReplay(database, store, s3Configs, instances);
  growth.push(replayed);
  replayRate = replayed.events / replayed.seconds;

  lag = await measureLiveLag(database);
  log(
    `live lag at ${appendsPerSecond} appends/s for ${lagSeconds} s (${lag.samples} appends): p50 ${lag.p50.toFixed(1)} ms, p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms`,
  );

  const naive = await naiveReplay(database.pool, store, s3Configs);
  naiveRate = naive.events / naive.seconds;
  log(
    `replay (naive, one event per transaction): ${naive.events} events in ${naive.seconds.toFixed(2)} s = ${Math.round(naiveRate)} events/s`,
  );
} finally {
  stopAll();
  await database.drop();
}

for (const events of growthEvents) {
  const larger = await createTestDatabase({ poolSize: 10 });
  try {
    const store = new PostgresEventStore(larger.pool, larger.connect);
    const s3Configs = s3ConfigProjection(new PostgresInstanceKeyring(larger.pool, testMasterKey()));
    growth.push(
      await loadAndReplay(larger, store, s3Configs, Math.round(events / eventsPerInstance)),
    );
  } finally {
    await larger.drop();
  }
}

log('');
log('| measure | this run | target | |');
log('|---|---|---|---|');
log(row('replay events/s ÷ naive one-event-per-transaction', replayRate / naiveRate, 20, '≥'));
log(row(`live projection lag p99 (ms) at ${appendsPerSecond} appends/s`, lag.p99, 50, '≤'));
log('');
log(
  '| events in the log | replay s | events/s | CPU µs/event (replay process) | CPU µs/event (PostgreSQL) | time per event ÷ smallest |',
);
log('|---|---|---|---|---|---|');
const smallest = growth[0]!;
for (const measure of growth) {
  const perEvent = measure.seconds / measure.events;
  log(
    `| ${measure.events.toLocaleString('en')} | ${measure.seconds.toFixed(1)} | ${Math.round(measure.events / measure.seconds).toLocaleString('en')} | ${(measure.processCpuMicros / measure.events).toFixed(1)} | ${(measure.postgresCpuMicros / measure.events).toFixed(1)} | ${(perEvent / (smallest.seconds / smallest.events)).toFixed(2)} |`,
  );
}
printYardstick('end');

function row(name: string, value: number, target: number, relation: '≥' | '≤'): string {
  const met = relation === '≥' ? value >= target : value <= target;
  return `| ${name} | ${value.toFixed(1)} | ${relation} ${target} | ${met ? 'met' : 'MISSED'} |`;
}

interface ReplayMeasure {
  events: number;
  seconds: number;
  processCpuMicros: number;
  postgresCpuMicros: number;
}

/** Appends a workload of `count` instances, then times `stowage replay`'s code over it. */
async function loadAndReplay(
  target: TestDatabase,
  store: PostgresEventStore,
  s3Configs: S3ConfigProjection,
  count: number,
): Promise<ReplayMeasure> {
  let started = performance.now();
  await appendWorkload(store, count);
  log(
    `appended ${count * eventsPerInstance} events over ${count} instances in ${seconds(started)} s`,
  );
  // As autovacuum would soon after such a load: without statistics the planner reads the log
  // through a bitmap scan and a sort of everything after the checkpoint, for every batch.
  await target.pool.query('ANALYZE events');

  const backends = await BackendCpu.open(target.url, new URL(target.url).pathname.slice(1));
  const backendsBefore = await backends.snapshot();
  const cpuBefore = process.cpuUsage();
  started = performance.now();
  const replayed = await replayReadModel(
    { definition: s3Configs, pool: target.pool, feed: store },
    { verify: false },
  );
  const replaySeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const postgresCpuMicros = await backends.since(backendsBefore);
  await backends.close();
  log(
    `replay (batched, stowage replay): ${replayed.events} events in ${replaySeconds.toFixed(2)} s = ${Math.round(replayed.events / replaySeconds)} events/s`,
  );
  return {
    events: replayed.events,
    seconds: replaySeconds,
    processCpuMicros: cpu.user + cpu.system,
    postgresCpuMicros,
  };
}

async function appendWorkload(store: PostgresEventStore, count: number): Promise<void> {
  const random = seededRandom(42);
  const histories = new Map(
    Array.from({ length: count }, (_, n) => {
      const instance = `bench-${n}`;
      return [instance, randomHistory(instance, eventsPerInstance, random)];
    }),
  );
  await appendHistories(store, histories, { chunk: Math.ceil(eventsPerInstance / 2) });
}

/**
 * Append → row visible: a steady stream of single-event appends to distinct instances, each timed
 * from just before its append to the projection's NOTIFY for its instance (sent on commit). The
 * projector runs as deployed, in its own process (`serve --roles projector`, the compiled build):
 * run in this process, it shared one event loop with the appends, and the lag measured how busy
 * the load made that loop as much as the projection.
 */
async function measureLiveLag(database: TestDatabase) {
  const projector = await startServer(['bin/stowage.js', 'serve', '--roles', 'projector'], {
    logFd: openSync(join(tmpdir(), 'stowage-bench-projector.log'), 'w'),
    readyPath: '/health/ready',
    env: {
      DATABASE_URL: database.url,
      LOG_LEVEL: 'warn',
      STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
    },
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
    // Timed once the projector has caught up and applies appends live.
    await appendOne(writer, 'bench-warm-up', sentAt);
    await everyAppendProjectedWithin(sentAt, 60_000);
    lags.length = 0;
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
    await everyAppendProjectedWithin(sentAt, 5_000);
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

async function everyAppendProjectedWithin(sentAt: Map<string, number>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (sentAt.size > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (sentAt.size > 0) throw new Error(`${sentAt.size} appends were never projected`);
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
async function naiveReplay(pool: Pool, store: PostgresEventStore, s3Configs: S3ConfigProjection) {
  await pool.query('TRUNCATE instance_s3_config');
  const target = { ...liveTarget(s3Configs), checkpoint: 'bench:naive', announce: false };
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
      await commitBatch(pool, { definition: s3Configs, target, from: checkpoint, log }, [event]);
      checkpoint = event.position;
      events++;
    }
  }
  return { events, seconds: (performance.now() - started) / 1000 };
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}
