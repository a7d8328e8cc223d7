import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import type { S3Client } from '@aws-sdk/client-s3';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { hostileHosts, withPort } from '../infra/network/hostile-hosts.ts';
import { kafkaBrokers } from '../support/services.ts';
import {
  bucketConfig,
  createTestBucket,
  objectKeys,
  removeTestBucket,
  testS3Client,
} from '../support/buckets.ts';
import { ConfiguredService } from '../support/configured-service.ts';
import {
  deleteTopics,
  OutcomeCollector,
  sendRequests,
  uniqueWorkerNames,
  type WorkerNames,
} from '../support/kafka.ts';
import { startTestWorker, type TestWorker } from '../support/in-process-worker.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

/**
 * Through the real worker and broker: media URLs that redirect to addresses refused even where
 * private endpoints are allowed (these tests need that, the S3 server is on loopback), in every
 * notation. Each ends as one permanent failed outcome, with nothing stored and no connection.
 */
const neverAllowed = hostileHosts.filter(([name]) =>
  /metadata|link-local|zone|unspecified|multicast|broadcast|reserved|documentation|benchmarking|local-use/.test(
    name,
  ),
);

let kafka: Kafka;
let producer: Producer;
let s3: S3Client;
let bucket: string;
let service: ConfiguredService;
let names: WorkerNames;
let running: TestWorker;
let outcomes: OutcomeCollector;
let instance: string;
let targetPort: number;
let connections = 0;
const targets: Server[] = [];
const redirector = createHttpServer((request, response) => {
  const to = new URL(request.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
  response.writeHead(302, { location: to }).end();
});

function listen(host: string, port: number): Promise<Server | undefined> {
  const server = createServer((socket) => socket.destroy());
  server.on('connection', () => connections++);
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => resolve(server));
  });
}

before(async () => {
  const v4 = await listen('127.0.0.1', 0);
  targetPort = (v4!.address() as AddressInfo).port;
  targets.push(v4!);
  const v6 = await listen('::1', targetPort);
  if (v6) targets.push(v6);
  await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));

  kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
  s3 = testS3Client();
  bucket = await createTestBucket(s3);
  service = await ConfiguredService.start();
  instance = await service.createInstance();
  await service.configure(instance, bucketConfig(bucket, 'hostile/'));
  names = uniqueWorkerNames();
  producer = kafka.producer();
  await producer.connect();
  running = await startTestWorker(service, names);
  outcomes = await OutcomeCollector.start(kafka, names);
});

after(async () => {
  await running?.worker.stop();
  await outcomes?.stop();
  await producer?.disconnect();
  // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
  if (names) await deleteTopics(kafka, names).catch(() => {});
  await service?.close();
  if (bucket) await removeTestBucket(s3, bucket);
  redirector.closeAllConnections();
  await new Promise((resolve) => redirector.close(resolve));
  await Promise.all(targets.map((target) => new Promise((resolve) => target.close(resolve))));
});

test('every redirect to a never-allowed address ends as one permanent failed outcome', async () => {
  const redirectorPort = (redirector.address() as AddressInfo).port;
  const requests = neverAllowed.map(([name, url]) => ({
    name,
    id: randomUUID(),
    instance,
    contentType: 'text/plain',
    source: {
      url: `http://127.0.0.1:${redirectorPort}/?to=${encodeURIComponent(withPort(url, targetPort))}`,
    },
  }));
  assert.ok(requests.length >= 20, `only ${requests.length} forms`);
  await sendRequests(
    producer,
    names.requested,
    requests.map(({ name: _name, ...request }) => request),
  );
  for (const { name, id } of requests) {
    const { failed, completed } = await outcomes.outcomeOf(id);
    assert.equal(completed, undefined, name);
    assert.match(
      failed?.code ?? '',
      /^source-(refused|rejected)$/,
      `${name}: ${JSON.stringify(failed)}`,
    );
    assert.equal(failed?.retryable, false, name);
    assert.equal(failed?.attempts, 1, name);
  }
  for (const { id } of requests) assert.equal(outcomes.failed.get(id)?.length, 1);
  assert.deepEqual(await objectKeys(s3, bucket), []);
  assert.equal(connections, 0, 'a hostile address was reached');
});
