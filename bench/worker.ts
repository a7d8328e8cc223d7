// The media-upload worker benchmark (npm run bench:worker; see bench/README.md). Needs the test
// services (scripts/test-services.sh up; eval "$(scripts/test-services.sh env)"): it works on
// its own database, bucket and topics, and removes them afterwards.
//
//   node --import tsx bench/worker.ts [--small 3000] [--large 64] [--concurrency 8]
//     [--instances 60] [--warm-up 1000] [--lookups 200000]
//     [--growth 10,1000,10000,50000] [--growth-messages 3000]
//     [--worker-node-flags="--max-semi-space-size=2 --max-old-space-size=128"]
// The worker runs as deployed: the compiled bin/stowage.js (npm run build first).
import { randomBytes, randomUUID } from 'node:crypto';
import { get, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Upload } from '@aws-sdk/lib-storage';
import pino from 'pino';
import { createKafka } from '../src/infra/kafka.ts';
import { keypairToJson, type MasterKey } from '../src/infra/master-keys.ts';
import { createGuardedAgents } from '../src/infra/s3/guarded-agents.ts';
import { UploadTargets } from '../src/workers/media-upload/upload-targets.ts';
import { projectorOver, reached } from '../test/projections/support/projection-harness.ts';
import { commandSide, enabling } from '../test/support/command-side.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { s3TestServer } from '../test/support/services.ts';
import { createTestBucket, removeTestBucket, testS3Client } from '../test/support/buckets.ts';
import {
  deleteTopics,
  OutcomeCollector,
  sendRequests,
  uniqueWorkerNames,
  workerEnv,
  type UploadRequestMessage,
} from '../test/support/kafka.ts';
import { startMediaServer, type MediaServer } from '../test/support/media-server.ts';
import { startStowage } from '../test/support/stowage-process.ts';
import { initSealing } from '../src/infra/sealing.ts';
import { seedEnabledInstances } from './support/seeded-instances.ts';
import { inAlternateHalves } from './support/alternate-halves.ts';
import { ServiceCpu } from './support/service-cpu.ts';
import { printYardstick, processCpuMicros } from './support/yardstick.ts';

await initSealing();

const { values } = parseArgs({
  options: {
    small: { type: 'string', default: '3000' },
    large: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '8' },
    instances: { type: 'string', default: '60' },
    lookups: { type: 'string', default: '200000' },
    'warm-up': { type: 'string', default: '1000' },
    // Distinct instances the growth cases spread their messages over; '' skips them.
    growth: { type: 'string', default: '10,1000,10000,50000' },
    'growth-messages': { type: 'string', default: '3000' },
    // e.g. "--max-semi-space-size=2 --max-old-space-size=128", the memory test's settings
    'worker-node-flags': { type: 'string', default: '' },
  },
});
const smallCount = Number(values.small);
const largeCount = Number(values.large);
const concurrency = Number(values.concurrency);
const instanceCount = Number(values.instances);
const lookupCount = Number(values.lookups);
const warmUpCount = Number(values['warm-up']);
const workerNodeFlags = values['worker-node-flags'].split(' ').filter(Boolean);
const growthCases = values.growth.split(',').filter(Boolean).map(Number);
const growthMessages = Number(values['growth-messages']);
const smallSize = 10 * 1024;
const largeSize = 8 * 1024 * 1024;
const mib = 1024 * 1024;

const log = (line: string) => process.stdout.write(`${line}\n`);
const logger = pino({ level: 'warn' });

const database = await createTestDatabase();
const s3 = testS3Client();
const bucket = await createTestBucket(s3);
const media = await startMediaServer();
const kafka = createKafka(
  (process.env.KAFKA_BROKERS ?? '').split(','),
  'stowage-bench',
  pino({ level: 'error' }),
);
const names = uniqueWorkerNames();
const services = ServiceCpu.find(['s3proxy', 'kafka']);
printYardstick('start');
try {
  const side = commandSide(database);
  const instances = await configureInstances(side);
  const growthInstances = await seedGrowthInstances(side.masterKey);
  const smallPayload = randomBytes(smallSize).toString('base64');

  // The worker as deployed: a process of its own, the platform's producer and consumer here.
  const worker = await startStowage({
    args: ['serve', '--roles', 'worker'],
    env: {
      ...workerEnv(names),
      DATABASE_URL: database.url,
      STOWAGE_SEAL_SECRET_KEY: keypairToJson(side.masterKey.keypair!).privateKey,
      STOWAGE_UPLOAD_CONCURRENCY: String(concurrency),
      // Info: the launcher waits for the "stowage started" line. Nothing is logged per message.
      LOG_LEVEL: 'info',
    },
    waitFor: 'live',
    nodeFlags: workerNodeFlags,
  });
  const outcomes = await OutcomeCollector.start(kafka, names);
  const producer = kafka.producer();
  await producer.connect();
  try {
    const workerPid = worker.child.pid!;
    const through = async (
      count: number,
      source: () => UploadRequestMessage['source'],
      over: readonly string[] = instances,
    ) => {
      const requests = Array.from({ length: count }, (_, n) => ({
        id: randomUUID(),
        instance: over[n % over.length]!,
        contentType: 'application/octet-stream',
        source: source(),
      }));
      const cpuBefore = processCpuMicros(workerPid);
      const servicesBefore = services.snapshot();
      const benchBefore = process.cpuUsage();
      const started = performance.now();
      // A produce request must stay under the broker's 1 MB.
      for (let from = 0; from < requests.length; from += 50) {
        await sendRequests(producer, names.requested, requests.slice(from, from + 50));
      }
      const done = () =>
        requests.every(({ id }) => outcomes.completed.has(id) || outcomes.failed.has(id));
      await outcomes.waitFor(done, 600_000, `${count} uploads`);
      const failed = requests.filter(({ id }) => outcomes.failed.has(id));
      if (failed.length > 0) {
        const first = outcomes.failed.get(failed[0]!.id)![0]!;
        throw new Error(`${failed.length} uploads failed, the first: ${first.reason}`);
      }
      const bench = process.cpuUsage(benchBefore);
      return {
        seconds: (performance.now() - started) / 1000,
        cpuMicros: processCpuMicros(workerPid) - cpuBefore,
        servicesMicros: services.since(servicesBefore),
        benchMicros: bench.user + bench.system,
      };
    };
    // Both paths run warmed up: the SDK's first thousand requests are several times slower (JIT);
    // and the worker's group joined, partitions assigned, clients made, connections open.
    await direct(warmUpCount, () => Buffer.from(smallPayload, 'base64'));
    await through(warmUpCount, () => ({ base64: smallPayload }));
    // Each size in alternate halves, direct, worker, worker, direct: the S3 server's CPU per
    // object grows as a run goes on (measured alone: 32 ms per 8 MiB object at first, 52 ms
    // after 64 more), which would otherwise be charged to whichever path runs later.
    const smallBody = () => Buffer.from(smallPayload, 'base64');
    const halvesOf = (count: number) => [Math.ceil(count / 2), Math.floor(count / 2)] as const;
    const [directSmall, workerSmall] = await inAlternateHalves(
      (count) => direct(count, smallBody),
      (count) => through(count, () => ({ base64: smallPayload })),
      halvesOf(smallCount),
      summed,
    );
    const [directLarge, workerLarge] = await inAlternateHalves(
      (count) => direct(count, () => download(media, largeSize)),
      (count) => through(count, () => ({ url: media.url(`/bytes/${largeSize}`) })),
      halvesOf(largeCount),
      summed,
    );
    log(
      `direct lib-storage, ${concurrency} at a time: ${rate(directSmall.seconds, smallCount)} uploads/s of 10 KiB (${perMessage(directSmall.cpuMicros, smallCount)} µs CPU each); ${throughput(directLarge.seconds, largeCount)} MiB/s of 8 MiB (${perMessage(directLarge.cpuMicros, largeCount)} µs CPU each)`,
    );
    log(
      `through Kafka and the worker: ${rate(workerSmall.seconds, smallCount)} uploads/s of 10 KiB (worker ${perMessage(workerSmall.cpuMicros, smallCount)} µs CPU each); ${throughput(workerLarge.seconds, largeCount)} MiB/s of 8 MiB (worker ${perMessage(workerLarge.cpuMicros, largeCount)} µs CPU each)`,
    );
    printCpuShares('10 KiB', smallCount, directSmall, workerSmall);
    printCpuShares('8 MiB', largeCount, directLarge, workerLarge);
    const smallRatio = directSmall.seconds / workerSmall.seconds;
    const largeRatio = directLarge.seconds / workerLarge.seconds;
    log(
      `ratio worker/direct: 10 KiB ${smallRatio.toFixed(2)} (target >= 0.5 ${smallRatio >= 0.5 ? 'met' : 'MISSED'}); 8 MiB ${largeRatio.toFixed(2)} (target >= 0.9 ${largeRatio >= 0.9 ? 'met' : 'MISSED'})`,
    );

    // Growth: the same 10 KiB messages spread round-robin over more and more distinct instances.
    const growth = [];
    for (const count of growthCases) {
      const over = growthInstances.slice(0, count);
      const run = await through(growthMessages, () => ({ base64: smallPayload }), over);
      growth.push({ count, ...run });
    }
    if (growth.length > 0) printGrowth(growth);
  } catch (error) {
    log(`the worker's log ends:\n${worker.log().slice(-3000)}`);
    throw error;
  } finally {
    await producer.disconnect();
    await outcomes.stop();
    await worker.stop();
  }

  const lookup = await warmLookupCost(side, instances[0]!);
  log(`config lookup with a warm cache: ${lookup.toFixed(0)} ns per message`);
} finally {
  printYardstick('end');
  // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
  await deleteTopics(kafka, names).catch(() => {});
  await media.close();
  await removeTestBucket(s3, bucket).catch((error: unknown) => log(`cleanup: ${String(error)}`));
  await database.drop();
}
process.exit(0);

async function configureInstances(side: ReturnType<typeof commandSide>): Promise<string[]> {
  const server = s3TestServer();
  const instances = Array.from({ length: instanceCount }, (_, n) => `bench-${n}`);
  let last;
  for (const instance of instances) {
    last = await side.handle(
      enabling(instance, server.secretAccessKey, {
        region: server.region,
        bucket,
        accessKey: server.accessKeyId,
        endpoint: server.endpoint,
        pathPrefix: `${instance}/`,
      }),
    );
  }
  const projector = projectorOver(database, { keyring: side.keyring });
  await reached(projector, last?.position ?? null);
  await projector.stop();
  return instances;
}

/** As many instances as the largest growth case, seeded straight into the read model. */
async function seedGrowthInstances(masterKey: MasterKey): Promise<string[]> {
  const instances = Array.from({ length: Math.max(0, ...growthCases) }, (_, n) => `grow-${n}`);
  const server = s3TestServer();
  const started = performance.now();
  await seedEnabledInstances(
    database.pool,
    masterKey,
    instances,
    (instance) => ({
      region: server.region,
      bucket,
      accessKey: server.accessKeyId,
      endpoint: server.endpoint,
      pathPrefix: `${instance}/`,
    }),
    server.secretAccessKey,
  );
  await database.pool.query('ANALYZE instance_s3_config; ANALYZE instance_keys');
  log(
    `seeded ${instances.length} instances in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return instances;
}

function printGrowth(cases: { count: number; seconds: number; cpuMicros: number }[]): void {
  const first = cases[0]!;
  log(`growth, ${growthMessages} × 10 KiB spread round-robin over N distinct instances:`);
  log('| instances | uploads/s | ÷ first | worker CPU µs/message |');
  log('| --------: | --------: | ------: | --------------------: |');
  for (const { count, seconds, cpuMicros } of cases) {
    log(
      `| ${count.toLocaleString('en')} | ${rate(seconds, growthMessages)} | ${(first.seconds / seconds).toFixed(2)} | ${perMessage(cpuMicros, growthMessages)} |`,
    );
  }
  const last = cases.at(-1)!;
  const ratio = first.seconds / last.seconds;
  // With few instances, one instance's messages wait for each other: CPU per message says more.
  const cpuRatio = first.cpuMicros / last.cpuMicros;
  log(
    `${last.count.toLocaleString('en')} ÷ ${first.count.toLocaleString('en')} instances: uploads/s ${ratio.toFixed(2)} (target >= 0.7 ${ratio >= 0.7 ? 'met' : 'MISSED'}); messages per CPU second ${cpuRatio.toFixed(2)}`,
  );
}

/** The baseline: the same payloads straight into the bucket with lib-storage, nothing else. */
async function direct(
  count: number,
  body: () => Buffer | Promise<IncomingMessage>,
): Promise<Measured> {
  let next = 0;
  const servicesBefore = services.snapshot();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const key = `direct/${next++}`;
        await new Upload({
          client: s3,
          partSize: 8 * mib,
          queueSize: 2,
          params: {
            Bucket: bucket,
            Key: key,
            Body: await body(),
            ContentType: 'application/octet-stream',
          },
        }).done();
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return {
    seconds: (performance.now() - started) / 1000,
    cpuMicros: cpu.user + cpu.system,
    servicesMicros: services.since(servicesBefore),
  };
}

/** Two halves of one case: times and CPU summed. */
function summed(first: Measured, second: Measured): Measured {
  const services = new Map(first.servicesMicros);
  for (const [name, micros] of second.servicesMicros) {
    services.set(name, (services.get(name) ?? 0) + micros);
  }
  return {
    seconds: first.seconds + second.seconds,
    cpuMicros: first.cpuMicros + second.cpuMicros,
    servicesMicros: services,
    ...(first.benchMicros === undefined
      ? {}
      : { benchMicros: first.benchMicros + (second.benchMicros ?? 0) }),
  };
}

/** A case's wall time, its uploader's CPU and the services' (by name). */
interface Measured {
  seconds: number;
  cpuMicros: number;
  servicesMicros: Map<string, number>;
  /** Through the worker: this process's, producing the requests and reading the outcomes. */
  benchMicros?: number;
}

/**
 * CPU µs per upload of every process that took part: the uploader (this process for the direct
 * path, the worker otherwise), the S3 server, the Kafka broker and, through the worker, this
 * process producing requests and reading outcomes. The machine's two cores are shared by them all.
 */
function printCpuShares(size: string, count: number, direct: Measured, worker: Measured): void {
  log(`CPU µs per ${size} upload, by process:`);
  log('| path | uploader | S3 server | Kafka broker | benchmark producer + consumer | all |');
  log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [path, measured] of [
    ['direct lib-storage', direct],
    ['through Kafka and the worker', worker],
  ] as const) {
    const s3 = measured.servicesMicros.get('s3proxy')!;
    const broker = measured.servicesMicros.get('kafka')!;
    const bench = measured.benchMicros ?? 0;
    const all = measured.cpuMicros + s3 + broker + bench;
    const cells = [measured.cpuMicros, s3, broker, bench, all].map((micros) =>
      perMessage(micros, count),
    );
    log(`| ${path} | ${cells.join(' | ')} |`);
  }
}

function download(server: MediaServer, size: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) =>
    get(server.url(`/bytes/${size}`), resolve).on('error', reject),
  );
}

/** What a message pays to find its instance's configuration once it is cached. */
async function warmLookupCost(side: ReturnType<typeof commandSide>, instance: string) {
  const agents = createGuardedAgents({ allowPrivate: true });
  const targets = new UploadTargets({
    pool: database.pool,
    connect: database.connect,
    keys: side.keyring,
    connection: { ...agents, timeoutMs: 5_000, exchangeWithinMs: 60_000 },
    logger,
  });
  await targets.start();
  try {
    await targets.find(instance);
    const started = performance.now();
    for (let n = 0; n < lookupCount; n++) await targets.find(instance);
    return ((performance.now() - started) * 1e6) / lookupCount;
  } finally {
    await targets.close();
    agents.destroy();
  }
}

function rate(seconds: number, count: number): string {
  return (count / seconds).toFixed(0);
}

function perMessage(cpuMicros: number, count: number): string {
  return (cpuMicros / count).toFixed(0);
}

function throughput(seconds: number, count: number): string {
  return ((count * largeSize) / mib / seconds).toFixed(1);
}
