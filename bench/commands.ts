/**
 * bench:commands — throughput and latency of POST /api/instance/s3/:instance on a real listening
 * server with the Postgres event store, against two baselines measured in the same run:
 *  - a bare fastify route with the same JSON parsing and zod validation (the HTTP floor), and
 *  - pgbench doing one durable INSERT per transaction into an events-shaped table with the same
 *    client count (the floor cost of one appended event).
 * Also prints what one seal costs. Run: npm run bench:commands
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { createLogger } from '../src/infra/logger.ts';
import { keypairToJson } from '../src/infra/master-keys.ts';
import { PostgresAccessStore } from '../src/infra/postgres/access-store.ts';
import { migrate } from '../src/infra/postgres/migrate.ts';
import { createPool } from '../src/infra/postgres/pool.ts';
import { generateKeypair, initSealing } from '../src/infra/sealing.ts';
import { sealSecret } from '../src/infra/secrets/secret-envelope.ts';

await initSealing();

const run = promisify(execFile);
const adminUrl = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const instanceCount = 2_000;

const database = `stowage_bench_${randomBytes(4).toString('hex')}`;
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
const children: ChildProcess[] = [];

async function main() {
  await admin(`CREATE DATABASE ${database}`);
  try {
    const pool = createPool(databaseUrl, 10);
    await migrate(pool);
    const tokens = await createInstances(pool);
    await pool.end();

    const sealMicros = measureSeal();
    const floor = await pgbenchAppend();
    const bare = await load(await startChild(['bench/support/bare-route.ts']), tokens, 'repeat');
    const service = await startService();
    await load(service, tokens, 'repeat', 2); // configures every instance once (warm-up)
    const appends = await load(service, tokens, 'change');
    const repeats = await load(service, tokens, 'repeat');

    const rows = [
      ['pgbench: one INSERT per transaction', floor, undefined, undefined],
      ['bare fastify route, same parsing + zod', bare.rate, bare.p50, bare.p99],
      ['POST that appends an event', appends.rate, appends.p50, appends.p99],
      ['POST repeated (idempotent, no append)', repeats.rate, repeats.p50, repeats.p99],
    ] as const;
    console.log(
      `\n${connections} connections/clients, ${seconds} s each, ${instanceCount} instances`,
    );
    console.log('| case | req/s | p50 ms | p99 ms |\n| --- | --- | --- | --- |');
    for (const [name, rate, p50, p99] of rows) {
      console.log(`| ${name} | ${rate.toFixed(0)} | ${p50 ?? '–'} | ${p99 ?? '–'} |`);
    }
    console.log(
      `\nappending POST / pgbench        = ${(appends.rate / floor).toFixed(2)} (target ≥ 0.5)`,
    );
    console.log(
      `idempotent POST / bare route    = ${(repeats.rate / bare.rate).toFixed(2)} (target ≥ 0.5)`,
    );
    console.log(`one seal (crypto_box_seal of the secret envelope) = ${sealMicros.toFixed(0)} µs`);
    const errors = appends.errors + repeats.errors + bare.errors;
    if (errors > 0) console.log(`non-2xx answers or errors: ${errors}`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await admin(`DROP DATABASE ${database} WITH (FORCE)`);
  }
}

async function createInstances(pool: pg.Pool): Promise<{ instance: string; token: string }[]> {
  const store = new PostgresAccessStore({
    pool,
    connect: async () => new pg.Client({ connectionString: databaseUrl }),
    logger: createLogger('warn'),
  });
  await store.createAccount('bench');
  const tokens = [];
  for (let n = 0; n < instanceCount; n++) {
    const instance = `bench-${n}`;
    tokens.push({ instance, token: (await store.createInstance('bench', instance)).instanceToken });
  }
  return tokens;
}

function body(n: number, counter: number, mode: 'change' | 'repeat') {
  return JSON.stringify({
    enabled: true,
    region: 'us-east-1',
    bucket: `bucket-${n % 100}`,
    accessKey: 'AKIABENCHMARK',
    secretKey: `secret-of-instance-${n}`,
    endpoint: '',
    pathPrefix: mode === 'change' ? `media/${counter}/` : 'media/',
  });
}

async function load(
  url: string,
  tokens: { instance: string; token: string }[],
  mode: 'change' | 'repeat',
  duration = seconds,
) {
  let counter = 0;
  const result = await autocannon({
    url,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const n = counter++ % tokens.length;
          const { instance, token } = tokens[n]!;
          return {
            ...request,
            path: `/api/instance/s3/${instance}`,
            headers: { 'content-type': 'application/json', token },
            body: body(n, counter, mode),
          };
        },
      },
    ],
  });
  return {
    rate: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
  };
}

async function pgbenchAppend(): Promise<number> {
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
  ]);
  const tps = /tps = ([\d.]+)/.exec(stdout);
  if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return Number(tps[1]);
}

function measureSeal(): number {
  const { publicKey } = generateKeypair();
  const rounds = 2_000;
  const started = process.hrtime.bigint();
  for (let n = 0; n < rounds; n++) {
    sealSecret(
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      { instance: 'i', revision: n, keyId: 'k' },
      publicKey,
    );
  }
  return Number(process.hrtime.bigint() - started) / 1_000 / rounds;
}

async function startService(): Promise<string> {
  const keys = keypairToJson(generateKeypair());
  const port = await freePort();
  // Logs go to a file, as a container runtime would drain them: through a pipe to this busy
  // load generator they would block the service and measure this process instead.
  const log = openSync(join(tmpdir(), 'stowage-bench-service.log'), 'w');
  void startChild(['bin/stowage.js', 'serve', '--roles', 'api'], log, {
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: String(connections),
    PORT: String(port),
    HOST: '127.0.0.1',
    // Production's level: the request log lines are part of what a request costs.
    LOG_LEVEL: 'info',
    STOWAGE_SEAL_PUBLIC_KEY: keys.publicKey,
    // eslint-disable-next-line no-restricted-syntax -- stdout goes to a file, so this never resolves; the readiness poll below sees a service that exits
  }).catch(() => {});
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; waited < 30_000; waited += 100) {
    if (
      await fetch(`${url}/health/ready`).then(
        (response) => response.ok,
        () => false,
      )
    )
      return url;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the service did not become ready within 30 s');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** Starts a server as a child process (so the load generator has its own core) and returns its URL. */
function startChild(
  args: string[],
  stdout: number | 'pipe' = 'pipe',
  env: Record<string, string> = {},
): Promise<string> {
  const profile =
    process.env.BENCH_CPU_PROF && args[0] === 'bin/stowage.js'
      ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']
      : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output: string | undefined = '';
    child.stdout?.on('data', (chunk) => {
      if (output === undefined) return;
      output += String(chunk);
      const url = /^(http:\/\/\S+)$/m.exec(output);
      if (url) {
        resolve(url[1]!);
        output = undefined;
      }
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${output}`)));
  });
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
