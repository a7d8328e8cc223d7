/**
 * bench:keys — `stowage keys rotate` over 10,000 instance keys (the real CLI, as a process),
 * while an API process (holding only the new public key) serves configuration POSTs; prints keys
 * re-sealed per second and the API's request latencies before and during the rotation. A CPU
 * yardstick (a fixed loop, timed) at start and end says how busy the shared machine was.
 * Run: npm run bench:keys
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { printYardstick } from './support/yardstick.ts';
import { createLogger } from '../src/infra/logger.ts';
import { keypairToJson, masterKeyId } from '../src/infra/master-keys.ts';
import { PostgresAccessStore } from '../src/infra/postgres/access-store.ts';
import { migrate } from '../src/infra/postgres/migrate.ts';
import { createPool, type Pool } from '../src/infra/postgres/pool.ts';
import { generateKeypair, initSealing, sealTo } from '../src/infra/sealing.ts';

await initSealing();

const run = promisify(execFile);
const adminUrl = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const keyCount = Number(process.env.BENCH_KEYS ?? 10_000);
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 500);
const clients = 4;
const apiInstances = 200;

const database = `stowage_bench_${randomBytes(4).toString('hex')}`;
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();

async function main() {
  printYardstick('start');
  await admin(`CREATE DATABASE ${database}`);
  let api: ChildProcess | undefined;
  try {
    const oldKey = generateKeypair();
    const newKey = keypairToJson(generateKeypair());
    const pool = createPool(databaseUrl, 10);
    await migrate(pool);
    await insertKeys(pool, oldKey.publicKey, masterKeyId(oldKey.publicKey));
    const tokens = await createInstances(pool);
    await pool.end();

    const started = await startApi(newKey.publicKey);
    api = started.child;
    const post = poster(started.url, tokens);
    for (let n = 0; n < apiInstances; n++) await post(n); // enables every instance once

    const before = await latencies(post, () => sleep(5_000));
    let rotation = { seconds: 0, wall: 0, resealed: 0 };
    const during = await latencies(post, async () => {
      rotation = await rotate(oldKey, newKey.privateKey);
    });
    const rate = rotation.resealed / rotation.seconds;
    console.log(
      `\n${rotation.resealed} instance keys re-sealed in ${rotation.seconds.toFixed(2)} s: ${rate.toFixed(0)} keys/s (batches of ${batchSize}; the CLI process ran ${rotation.wall.toFixed(2)} s in all)`,
    );
    console.log(`API POSTs from ${clients} clients, ms:`);
    console.log(`  before rotation: ${summary(before)}`);
    console.log(`  during rotation: ${summary(during)}`);
  } finally {
    api?.kill('SIGTERM');
    await sleep(500);
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
  printYardstick('end');
}

async function insertKeys(pool: Pool, masterPublicKey: Uint8Array, masterId: string) {
  for (let done = 0; done < keyCount; done += 1_000) {
    const rows = Array.from({ length: Math.min(1_000, keyCount - done) }, () => {
      const keypair = generateKeypair();
      return {
        id: randomUUID(),
        publicKey: Buffer.from(keypair.publicKey),
        sealed: Buffer.from(sealTo(masterPublicKey, keypair.privateKey)),
        mac: randomBytes(32),
      };
    });
    await pool.query(
      `INSERT INTO instance_keys (key_id, instance_name, public_key, sealed_private_key, mac_key, master_key_id)
       SELECT id, 'bench-' || id, pk, sealed, mac, $5
       FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[]) AS t(id, pk, sealed, mac)`,
      [
        rows.map((row) => row.id),
        rows.map((row) => row.publicKey),
        rows.map((row) => row.sealed),
        rows.map((row) => row.mac),
        masterId,
      ],
    );
  }
}

async function createInstances(pool: Pool): Promise<string[]> {
  const access = new PostgresAccessStore({
    pool,
    connect: async () => {
      throw new Error('not listening');
    },
    logger: createLogger('silent'),
  });
  const account = `bench-${randomUUID().slice(0, 8)}`;
  await access.createAccount(account);
  const tokens: string[] = [];
  for (let n = 0; n < apiInstances; n++) {
    tokens.push((await access.createInstance(account, `bench-${n}`)).instanceToken);
  }
  return tokens;
}

async function startApi(publicKey: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['bin/stowage.js', 'serve', '--roles', 'api'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      STOWAGE_SEAL_PUBLIC_KEY: publicKey,
      STOWAGE_SEAL_SECRET_KEY: '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info', // its "stowage started" line says where it listens
      STOWAGE_RATE_LIMIT_PER_MINUTE: '1000000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('"stowage started"'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`API exited (${code}): ${output}`)));
  });
  return { child, url };
}

/** POSTs a changed configuration to instance `n`: every call appends an event. */
function poster(url: string, tokens: string[]) {
  let change = 0;
  return async (n: number): Promise<void> => {
    const response = await fetch(`${url}/api/instance/s3/bench-${n}`, {
      method: 'POST',
      headers: { token: tokens[n]!, 'content-type': 'application/json' },
      body: JSON.stringify({
        enabled: true,
        region: 'us-east-1',
        bucket: 'bench-bucket',
        accessKey: 'AKIABENCH',
        secretKey: 'bench-secret',
        endpoint: '',
        pathPrefix: `p${change++}/`,
      }),
    });
    if (response.status !== 200) throw new Error(`POST answered ${response.status}`);
    await response.arrayBuffer();
  };
}

/** Request latencies (ms) of `clients` POST loops, for as long as `work` runs. */
async function latencies(post: (n: number) => Promise<void>, work: () => Promise<void>) {
  const times: number[] = [];
  let running = true;
  const loop = async (client: number) => {
    for (let n = client; running; n = (n + clients) % apiInstances) {
      const started = performance.now();
      await post(n);
      times.push(performance.now() - started);
    }
  };
  const loops = Array.from({ length: clients }, (_, client) => loop(client));
  await work();
  running = false;
  await Promise.all(loops);
  return times.sort((a, b) => a - b);
}

async function rotate(oldKey: { privateKey: Uint8Array }, newSecret: string) {
  const started = performance.now();
  const { stdout } = await run(
    process.execPath,
    ['bin/stowage.js', 'keys', 'rotate', '--batch-size', String(batchSize)],
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        STOWAGE_SEAL_SECRET_KEY: newSecret,
        STOWAGE_SEAL_RETIRED_SECRET_KEYS: Buffer.from(oldKey.privateKey).toString('base64url'),
      },
    },
  );
  const wall = (performance.now() - started) / 1000;
  const summary = JSON.parse(stdout) as { resealed: number; seconds: number };
  return { seconds: summary.seconds, wall, resealed: summary.resealed };
}

function summary(times: number[]): string {
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return `${times.length} requests, p50 ${at(0.5).toFixed(1)}, p99 ${at(0.99).toFixed(1)}, slowest ${times.at(-1)!.toFixed(1)}`;
}

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

await main();
