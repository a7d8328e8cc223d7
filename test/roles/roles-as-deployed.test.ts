import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { Kafka } from 'kafkajs';
import type { S3Client } from '@aws-sdk/client-s3';
import { newEvent } from '../projections/support/s3-config-workload.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { startService, type RunningService } from '../../src/serve.ts';
import { loadSettings, SettingsError } from '../../src/settings.ts';
import { waitUntil } from '../projections/support/read-model.ts';
import { startTestApi } from '../support/api.ts';
import { kafkaBrokers } from '../support/services.ts';
import {
  bucketConfig,
  createTestBucket,
  removeTestBucket,
  testS3Client,
} from '../support/buckets.ts';
import { ConfiguredService } from '../support/configured-service.ts';
import { deleteTopics, uniqueWorkerNames, type WorkerNames } from '../support/kafka.ts';
import { workerEnvFor } from '../support/in-process-worker.ts';

await initSealing();

const readiness = async (service: RunningService) => {
  const response = await service.app.inject({ method: 'GET', url: '/health/ready' });
  return { status: response.statusCode, checks: response.json().checks as Record<string, string> };
};

describe('roles as deployed: the API holds the public key only, the worker opens secrets', () => {
  let api: ConfiguredService;
  let worker: RunningService;
  let kafka: Kafka;
  let s3: S3Client;
  let bucket: string;
  let names: WorkerNames;

  before(async () => {
    kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
    s3 = testS3Client();
    bucket = await createTestBucket(s3);
    api = await ConfiguredService.start();
    names = uniqueWorkerNames();
    const settings = loadSettings({
      ...workerEnvFor(api, names),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
    });
    worker = await startService(settings, new Set(['worker']), pino({ level: 'silent' }));
  });

  after(async () => {
    await worker?.stop();
    await api?.close();
    // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
    if (names) await deleteTopics(kafka, names).catch(() => {});
    if (bucket) await removeTestBucket(s3, bucket);
  });

  test('the API answers a test of stored credentials that only the worker could open', async () => {
    const instance = await api.createInstance();
    const config = bucketConfig(bucket);
    await api.configure(instance, config);
    for (const body of [undefined, {}]) {
      const response = await api.testCredentials(instance, body);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().tested, 'stored');
      assert.equal(response.json().ok, true);
      assert.ok(!response.body.includes(config.secretKey));
    }
  });

  test('the worker is ready once its consumer is in its group, and says so by name', async () => {
    await waitUntil(async () => (await readiness(worker)).status === 200, {
      what: 'the worker to be ready',
      timeoutMs: 30_000,
    });
    assert.equal((await readiness(worker)).checks.worker, 'ok');
  });

  test('an API process given the master secret key refuses to start, naming the variable', async () => {
    const secret = keypairToJson(generateKeypair()).privateKey;
    await assert.rejects(
      startTestApi({ STOWAGE_SEAL_SECRET_KEY: secret, STOWAGE_SEAL_PUBLIC_KEY: '' }),
      (error: unknown) =>
        error instanceof SettingsError &&
        /STOWAGE_SEAL_SECRET_KEY: the api role must not hold/.test(error.message) &&
        !error.message.includes(secret),
    );
  });
});

test('a projector stopped on a poison event is not ready', async () => {
  const projector = await startTestApi({}, ['projector']);
  try {
    assert.equal((await readiness(projector.service)).status, 200);
    const { pool, connect } = projector.database;
    const store = new PostgresEventStore(pool, connect);
    await store.appendToStream(
      instanceStream('poisoned'),
      [newEvent('S3ConfigUpdated', { schemaVersion: 1, instance: 'poisoned' })],
      'no_stream',
    );
    await waitUntil(async () => (await readiness(projector.service)).status === 503, {
      what: 'readiness to turn',
    });
    assert.equal((await readiness(projector.service)).checks.projector, 'unavailable');
  } finally {
    await projector.close();
  }
});
