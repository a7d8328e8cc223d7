/**
 * bench:commands — POST /api/instance/s3/:instance of stowage (`bin/stowage.js serve --roles api`,
 * the compiled build as deployed) against, in the same run and on the same workload:
 *  - pgbench doing one durable INSERT per transaction into an events-shaped table (the floor
 *    cost of one appended event),
 *  - a bare fastify route with the same JSON parsing and zod validation (the HTTP floor),
 *  - that route plus one INSERT, or one stream read, through node-postgres (bench/support/
 *    floor-route.ts): how far the store's round trip alone caps any Node service here,
 *  - the same command on Emmett's PostgreSQL event store (bench/peers/emmett), the framework a
 *    user would pick instead.
 * Then how the cost grows: appends with 200,000 instances in the store, GET and history of a
 * stream of 10,000 events. Prints CPU µs per request of the server and of PostgreSQL's backends,
 * and a CPU yardstick at start and end. Run: npm run bench:commands
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createLogger } from '../src/infra/logger.ts';
import { keypairToJson } from '../src/infra/master-keys.ts';
import { PostgresAccessStore } from '../src/infra/postgres/access-store.ts';
import { migrate } from '../src/infra/postgres/migrate.ts';
import { createPool } from '../src/infra/postgres/pool.ts';
import { generateKeypair, initSealing } from '../src/infra/sealing.ts';
import {
  addAccountTokens,
  cloneInstances,
  growStream,
  latencyOf,
} from './support/commands-growth.ts';
import { inAlternateHalves } from './support/alternate-halves.ts';
import {
  combined,
  loadPosts,
  type BenchInstance,
  type LoadMode,
  type LoadResult,
} from './support/commands-load.ts';
import { BackendCpu } from './support/pg-backends.ts';
import { startServer, stopAll, type Child } from './support/processes.ts';
import { printYardstick } from './support/yardstick.ts';

await initSealing();
const run = promisify(execFile);
const adminUrl = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const instanceCount = 2_000;
const grownInstances = Number(process.env.BENCH_GROWTH_INSTANCES ?? 200_000);
const grownStreamEvents = 10_000;

const database = `stowage_bench_${randomBytes(4).toString('hex')}`;
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
// The service's own connection string, `{db}` standing for the database: to compare transports.
const serviceDatabaseUrl = process.env.BENCH_SERVICE_DATABASE_URL?.replace('{db}', database);

async function main() {
  printYardstick('start');
  await admin(`CREATE DATABASE ${database}`);
  const backends = await BackendCpu.open(adminUrl, database);
  const pool = createPool(databaseUrl, 10);
  try {
    await migrate(pool);
    const instances = await createInstances(pool);
    const options = { connections, duration: seconds, backends };

    const floor = await pgbenchAppend(backends);

    const bare = await startServer(['bench/support/bare-route.ts'], serverOptions('bare'));
    const bareRepeats = await loadPosts(bare, instances, 'repeat', options);
    await bare.stop();
    const appendFloor = await measureFloor('append', instances, options);
    const readFloor = await measureFloor('read', instances, options);

    // The peer and stowage both up (the idle one costs nothing), measured in alternate halves.
    const peer = await startPeer(instances);
    const service = await startService();
    for (const server of [peer, service]) {
      await loadPosts(server, instances, 'repeat', { connections, amount: instances.length });
    }
    const load = (server: Child, mode: LoadMode) => (duration: number) =>
      loadPosts(server, instances, mode, { ...options, duration });
    const halves = [seconds / 2, seconds / 2] as const;
    const [peerRepeats, repeats] = await inAlternateHalves(
      load(peer, 'repeat'),
      load(service, 'repeat'),
      halves,
      combined,
    );
    const [peerAppends, appends] = await inAlternateHalves(
      load(peer, 'change'),
      load(service, 'change'),
      halves,
      combined,
    );
    await peer.stop();

    printCases([
      ['pgbench: one INSERT per transaction', floor],
      ['bare fastify route, same parsing + zod', bareRepeats],
      ['floor: bare route + one INSERT (node-postgres)', appendFloor],
      ['floor: bare route + one stream read (node-postgres)', readFloor],
      ['Emmett peer: POST repeated (no append)', peerRepeats],
      ['Emmett peer: POST that appends an event', peerAppends],
      ['stowage: POST repeated (no append)', repeats],
      ['stowage: POST that appends an event', appends],
    ]);
    printRatios([
      ['appending POST ÷ Emmett peer', appends.rate / peerAppends.rate, 2],
      ['repeated POST ÷ Emmett peer', repeats.rate / peerRepeats.rate, 2],
      ['appending POST ÷ pgbench', appends.rate / floor.rate, 0.5],
      ['repeated POST ÷ bare route', repeats.rate / bareRepeats.rate, 0.5],
    ]);
    printFloors([
      ['append floor ÷ pgbench', appendFloor.rate / floor.rate],
      ['read floor ÷ bare route', readFloor.rate / bareRepeats.rate],
      ['appending POST ÷ append floor', appends.rate / appendFloor.rate],
      ['repeated POST ÷ read floor', repeats.rate / readFloor.rate],
    ]);
    await growth(pool, service, instances, appends, backends);
  } finally {
    stopAll();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await pool.end();
    await backends.close();
    await admin(`DROP DATABASE ${database} WITH (FORCE)`);
  }
  printYardstick('end');
}

async function growth(
  pool: pg.Pool,
  service: Child,
  instances: BenchInstance[],
  appendsAtStart: LoadResult,
  backends: BackendCpu,
) {
  const step = stepTimer();
  const grown = instances[0]!.instance;
  await growStream(pool, grown, grownStreamEvents);
  step(`grew ${grown}'s stream to ${grownStreamEvents} events`);
  const projector = await startService(['projector']);
  const tokens = await addAccountTokens(pool, grown, 20);
  await waitForRevision(service.url, grown, tokens[0]!, grownStreamEvents - 1);
  await projector.stop();
  step('the projection caught up');
  const get = await latencyOf(service.url, `/api/instance/s3/${grown}`, tokens, 400);
  const history = await latencyOf(service.url, `/api/instance/s3/${grown}/history`, tokens, 400);

  const clones = await cloneInstances(pool, instances, grownInstances / instanceCount - 1);
  step(`copied the instances up to ${grownInstances}`);
  const options = { connections, duration: seconds, backends };
  // The same 2,000 busy instances in a store of 200,000, then appends spread over all of them
  // (each instance met for the first time by this process: nothing of it is cached).
  const hot = await loadPosts(service, instances.slice(1), 'change', {
    ...options,
    bodyIndex: (n) => n + 1,
  });
  const everyone = shuffled([
    ...instances.slice(1).map((instance, n) => ({ ...instance, source: n + 1 })),
    ...clones.instances.map((instance, n) => ({ ...instance, source: clones.sourceIndex[n]! })),
  ]);
  const spread = await loadPosts(service, everyone, 'change', {
    ...options,
    bodyIndex: (n) => everyone[n]!.source,
  });

  console.log(`\nGrowth (${connections} connections, ${seconds} s per case)`);
  console.log(
    '| case | req/s | p50 / p99 ms | CPU µs/req service + db |\n| --- | --- | --- | --- |',
  );
  const row = (name: string, result: LoadResult) =>
    console.log(
      `| ${name} | ${result.rate.toFixed(0)} | ${result.p50} / ${result.p99} | ${cpuOf(result)} |`,
    );
  row(`appending POST, ${instanceCount} instances in the store`, appendsAtStart);
  row(`appending POST, ${grownInstances} in the store, the same ${instanceCount} busy`, hot);
  row(`appending POST, ${grownInstances} in the store, spread over all`, spread);
  console.log(
    `| GET, a stream of ${grownStreamEvents} events (400 requests, 4 connections) | – | ${get.p50} / ${get.p99} | – |`,
  );
  console.log(
    `| history, a stream of ${grownStreamEvents} events (400 requests, 4 connections) | – | ${history.p50} / ${history.p99} | – |`,
  );
  const errors = hot.errors + spread.errors + get.errors + history.errors;
  if (errors > 0) console.log(`non-2xx answers or errors in the growth cases: ${errors}`);
}

async function createInstances(pool: pg.Pool): Promise<BenchInstance[]> {
  const store = new PostgresAccessStore({
    pool,
    connect: async () => new pg.Client({ connectionString: databaseUrl }),
    logger: createLogger('warn'),
  });
  await store.createAccount('bench');
  const instances = [];
  for (let n = 0; n < instanceCount; n++) {
    const instance = `bench-${n}`;
    instances.push({
      instance,
      token: (await store.createInstance('bench', instance)).instanceToken,
    });
  }
  return instances;
}

async function pgbenchAppend(backends: BackendCpu): Promise<LoadResult> {
  await admin(
    `CREATE TABLE bench_events (LIKE events INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES)`,
    databaseUrl,
  );
  const script = join(tmpdir(), `stowage-bench-${process.pid}.sql`);
  await writeFile(
    script,
    `INSERT INTO bench_events (stream_name, stream_revision, event_id, event_type, data, metadata)
     VALUES ('instance-s3-' || gen_random_uuid(), 0, gen_random_uuid(), 'S3ConfigUpdated',
             '{"schemaVersion":1,"region":"us-east-1","bucket":"b","pathPrefix":"media/"}', '{}');\n`,
  );
  // pgbench's backends end with it: their CPU is sampled while it runs (the last half second of
  // each is missed).
  const before = await backends.snapshot();
  const seen = new Map<number, number>();
  const sampler = setInterval(() => {
    void backends.snapshot().then((now) => {
      for (const [pid, micros] of now) if (!before.has(pid)) seen.set(pid, micros);
    });
  }, 500);
  const { stdout } = await run('pgbench', [
    '-n',
    '-c',
    String(connections),
    '-j',
    '2',
    '-T',
    String(seconds),
    '-f',
    script,
    databaseUrl,
  ]).finally(() => clearInterval(sampler));
  const transactions = Number(/processed: (\d+)/.exec(stdout)?.[1] ?? NaN);
  const databaseCpu = [...seen.values()].reduce((sum, micros) => sum + micros, 0) / transactions;
  const tps = /tps = ([\d.]+)/.exec(stdout);
  const latency = /latency average = ([\d.]+) ms/.exec(stdout);
  if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return {
    rate: Number(tps[1]),
    requests: transactions,
    p50: Number(latency?.[1] ?? NaN),
    p99: NaN,
    errors: 0,
    databaseCpu,
  };
}

function serverOptions(name: string) {
  // Logs go to a file, as a container runtime would drain them: through a pipe to this busy
  // load generator they would block the server and measure this process instead.
  return {
    logFd: openSync(join(tmpdir(), `stowage-bench-${name}.log`), 'w'),
    env: {},
    readyPath: '/',
  };
}

async function startPeer(instances: readonly BenchInstance[]): Promise<Child> {
  const tokens = join(tmpdir(), `stowage-bench-peer-tokens-${process.pid}.json`);
  await writeFile(
    tokens,
    JSON.stringify(Object.fromEntries(instances.map(({ instance, token }) => [instance, token]))),
  );
  return startServer(['bench/peers/emmett/server.ts'], {
    ...serverOptions('emmett'),
    env: {
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: String(connections),
      LOG_LEVEL: 'info',
      PEER_TOKENS: tokens,
    },
  });
}

/** One floor route (bench/support/floor-route.ts) alone under the same load. */
async function measureFloor(
  floor: 'append' | 'read',
  instances: BenchInstance[],
  options: Parameters<typeof loadPosts>[3],
): Promise<LoadResult> {
  const server = await startServer(['bench/support/floor-route.ts'], {
    ...serverOptions(`floor-${floor}`),
    env: { DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: String(connections), FLOOR: floor },
  });
  try {
    return await loadPosts(server, instances, floor === 'append' ? 'change' : 'repeat', options);
  } finally {
    await server.stop();
  }
}

/** The service as deployed: the API role holds only the public half of the master key. */
function startService(roles = ['api']): Promise<Child> {
  const keys = keypairToJson(generateKeypair());
  return startServer(['bin/stowage.js', 'serve', '--roles', roles.join(',')], {
    ...serverOptions(roles.join('-')),
    readyPath: '/health/ready',
    env: {
      DATABASE_URL: serviceDatabaseUrl ?? databaseUrl,
      DATABASE_POOL_SIZE: String(connections),
      // Production's level: the request log lines are part of what a request costs.
      LOG_LEVEL: 'info',
      // Every request is still counted against its token's budget, at the same cost; the
      // contract's 100 a minute would run out in the growth cases, where the same 2,000 tokens
      // are busy again within a minute, and answer 429s that cost next to nothing.
      STOWAGE_RATE_LIMIT_PER_MINUTE: '1000000',
      STOWAGE_SEAL_PUBLIC_KEY: keys.publicKey,
    },
  });
}

async function waitForRevision(url: string, instance: string, token: string, revision: number) {
  for (let waited = 0; waited < 180_000; waited += 250) {
    const response = await fetch(`${url}/api/instance/s3/${instance}`, { headers: { token } });
    if (response.headers.get('etag') === `"${revision}"`) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the projection did not reach revision ${revision} of ${instance} in 180 s`);
}

function stepTimer() {
  let last = Date.now();
  return (what: string) => {
    console.log(`  (${what}: ${((Date.now() - last) / 1000).toFixed(1)} s)`);
    last = Date.now();
  };
}

function shuffled<T>(items: T[]): T[] {
  for (let n = items.length - 1; n > 0; n--) {
    const other = Math.floor(Math.random() * (n + 1));
    [items[n], items[other]] = [items[other]!, items[n]!];
  }
  return items;
}

function cpuOf(result: LoadResult): string {
  if (result.serverCpu === undefined && result.databaseCpu === undefined) return '–';
  const server = result.serverCpu === undefined ? '–' : result.serverCpu.toFixed(0);
  const database = result.databaseCpu === undefined ? '–' : result.databaseCpu.toFixed(0);
  return `${server} + ${database}`;
}

function printCases(rows: [string, LoadResult][]) {
  console.log(
    `\n${connections} connections/clients, ${seconds} s each, ${instanceCount} instances`,
  );
  console.log(
    '| case | req/s | p50 / p99 ms | CPU µs/req server + db |\n| --- | --- | --- | --- |',
  );
  for (const [name, result] of rows) {
    const latency = Number.isNaN(result.p99)
      ? `${result.p50} avg`
      : `${result.p50} / ${result.p99}`;
    console.log(`| ${name} | ${result.rate.toFixed(0)} | ${latency} | ${cpuOf(result)} |`);
  }
  const errors = rows.reduce((sum, [, result]) => sum + result.errors, 0);
  if (errors > 0) console.log(`non-2xx answers or errors: ${errors}`);
}

function printRatios(rows: [string, number, number][]) {
  console.log('\n| ratio | value | target | |\n| --- | --- | --- | --- |');
  for (const [name, value, target] of rows) {
    console.log(
      `| ${name} | ${value.toFixed(2)} | ≥ ${target} | ${value >= target ? 'met' : 'missed'} |`,
    );
  }
}

// No targets: how far the store's round trip alone caps any Node service, and how far stowage's
// own work (auth, rate limit, decision, log line) stays below that cap.
function printFloors(rows: [string, number][]) {
  console.log('\n| floor ratio | value |\n| --- | --- |');
  for (const [name, value] of rows) console.log(`| ${name} | ${value.toFixed(2)} |`);
}

async function admin(sql: string, url = adminUrl) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

await main();
