import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import type { S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { kafkaBrokers } from '../support/services.ts';
import {
  bucketConfig,
  createTestBucket,
  removeTestBucket,
  testS3Client,
} from '../support/buckets.ts';
import {
  deleteTopics,
  OutcomeCollector,
  sendRequests,
  uniqueWorkerNames,
  workerEnv,
} from '../support/kafka.ts';
import { postConfig, untilProjected } from './support/drill-traffic.ts';
import { startStowage, type StowageProcess } from '../support/stowage-process.ts';
import { newMasterKey } from '../support/stowage-cli.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

let database: TestDatabase;
let kafka: Kafka;
let producer: Producer;
let s3: S3Client;
let bucket: string;
let outcomes: OutcomeCollector;
const names = uniqueWorkerNames();
const processes: StowageProcess[] = [];

before(async () => {
  database = await createTestDatabase();
  kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
  producer = kafka.producer();
  await producer.connect();
  s3 = testS3Client();
  bucket = await createTestBucket(s3);
});

after(async () => {
  // eslint-disable-next-line no-restricted-syntax -- cleanup: a failed stop must not hide the test's own result
  await outcomes?.stop().catch(() => {});
  for (const running of processes) running.child.kill('SIGKILL');
  await producer?.disconnect();
  // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
  await deleteTopics(kafka, names).catch(() => {});
  // eslint-disable-next-line no-restricted-syntax -- cleanup: the bucket name is unique to this run, a leftover disturbs nothing
  if (bucket) await removeTestBucket(s3, bucket).catch(() => {});
  await database?.drop();
});

test('a disable reaches a worker whose change listener was cut: the next message ends storage-disabled', async () => {
  const masterKey = newMasterKey();
  const service = async (roles: string, env: Record<string, string>) => {
    const started = await startStowage({
      args: ['serve', '--roles', roles],
      env: { DATABASE_URL: database.url, ...env },
      // Live, not ready: a worker missing a master key is started on purpose and never ready.
      waitFor: 'live',
    });
    processes.push(started);
    return started;
  };
  const apiEnv = {
    STOWAGE_SEAL_PUBLIC_KEY: masterKey.publicKey,
    STOWAGE_ALLOW_PRIVATE_ENDPOINTS: 'true',
  };
  const apiA = await service('api,projector', apiEnv);
  const apiB = await service('api', apiEnv);
  await service('worker', { ...workerEnv(names), STOWAGE_SEAL_SECRET_KEY: masterKey.privateKey });
  outcomes = await OutcomeCollector.start(kafka, names);

  const access = new PostgresAccessStore({
    pool: database.pool,
    connect: database.connect,
    logger: pino({ level: 'silent' }),
  });
  const account = `acct-${randomUUID().slice(0, 8)}`;
  const { accountToken } = await access.createAccount(account);
  const instance = `inst-${randomUUID().slice(0, 8)}`;
  await access.createInstance(account, instance);
  await access.close();
  const enabled = await postConfig(apiA.url, accountToken, instance, bucketConfig(bucket, 'm/'));
  assert.equal(enabled.status, 200, enabled.body);
  // The worker reads the read model: the first message must not race the projection.
  await untilProjected(apiA.url, accountToken, instance);

  const message = () => ({
    id: randomUUID(),
    instance,
    contentType: 'text/plain',
    source: { base64: Buffer.from('media').toString('base64') },
  });
  // The worker's configuration is read, its secret opened and kept (with its S3 client).
  const first = message();
  await sendRequests(producer, names.requested, [first]);
  await outcomes.waitFor(
    () => outcomes.completed.has(first.id) || outcomes.failed.has(first.id),
    60_000,
    'the first upload',
  );
  assert.ok(outcomes.completed.has(first.id), JSON.stringify(outcomes.failed.get(first.id)));

  const { rows: cut } = await database.pool.query<{ pid: number }>(
    `SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'stowage listener stowage_s3_config_changed'`,
  );
  assert.equal(cut.length, 1, "the worker's LISTEN backend");

  // Disabled through the other API process.
  const disabled = await postConfig(apiB.url, accountToken, instance, { enabled: false });
  assert.equal(disabled.status, 200, disabled.body);
  const { rows: keys } = await database.pool.query(
    'SELECT 1 FROM instance_keys WHERE instance_name = $1',
    [instance],
  );
  assert.equal(keys.length, 0, 'the key row is deleted');

  const next = message();
  await sendRequests(producer, names.requested, [next]);
  const outcome = await outcomes.outcomeOf(next.id, 60_000);
  assert.equal(outcome.completed, undefined);
  assert.equal(outcome.failed?.code, 'storage-disabled');
});
