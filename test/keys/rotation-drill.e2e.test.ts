import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
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
  type WorkerNames,
} from '../support/kafka.ts';
import { DrillTraffic, postConfig, untilProjected } from './support/drill-traffic.ts';
import { startStowage, type StowageProcess } from '../support/stowage-process.ts';
import {
  keysOn,
  newMasterKey,
  runStowage,
  type KeysStatus,
  type TestMasterKey,
} from '../support/stowage-cli.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

// The whole rotation drill of the README, under live traffic, with every role in a process of
// its own: API processes get the public key only, workers the secrets.
describe('master key rotation drill', () => {
  let database: TestDatabase;
  let kafka: Kafka;
  let producer: Producer;
  let s3: S3Client;
  let bucket: string;
  let oldKey: TestMasterKey;
  let token: string;
  let access: PostgresAccessStore;
  let account: string;
  const instances: string[] = [];
  const topicSets: WorkerNames[] = [];
  const processes: StowageProcess[] = [];
  const collectors: OutcomeCollector[] = [];

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
  const api = (publicKey: string) =>
    service('api,projector', {
      STOWAGE_SEAL_PUBLIC_KEY: publicKey,
      STOWAGE_ALLOW_PRIVATE_ENDPOINTS: 'true',
      STOWAGE_RATE_LIMIT_PER_MINUTE: '100000',
    });
  const worker = (names: WorkerNames, secrets: Record<string, string>) =>
    service('worker', { ...workerEnv(names), ...secrets });
  const names = () => {
    const more = uniqueWorkerNames();
    topicSets.push(more);
    return more;
  };
  const collect = async (of: WorkerNames) => {
    const collector = await OutcomeCollector.start(kafka, of);
    collectors.push(collector);
    return collector;
  };
  const keysStatus = async (privateKey: string) => {
    const result = await runStowage(['keys', 'status'], {
      DATABASE_URL: database.url,
      STOWAGE_SEAL_SECRET_KEY: privateKey,
    });
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as KeysStatus;
  };

  before(async () => {
    database = await createTestDatabase();
    kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
    producer = kafka.producer();
    await producer.connect();
    s3 = testS3Client();
    bucket = await createTestBucket(s3);
    oldKey = newMasterKey();
    access = new PostgresAccessStore({
      pool: database.pool,
      connect: database.connect,
      logger: pino({ level: 'silent' }),
    });
    account = `acct-${randomUUID().slice(0, 8)}`;
    token = (await access.createAccount(account)).accountToken;
    for (let n = 0; n < 12; n++) {
      const instance = `drill-${n}-${randomUUID().slice(0, 6)}`;
      await access.createInstance(account, instance);
      instances.push(instance);
    }
  });

  after(async () => {
    // eslint-disable-next-line no-restricted-syntax -- cleanup: a failed stop must not hide the test's own result
    for (const collector of collectors) await collector.stop().catch(() => {});
    for (const running of processes) running.child.kill('SIGKILL');
    await producer?.disconnect();
    await access?.close();
    // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
    for (const set of topicSets) await deleteTopics(kafka, set).catch(() => {});
    // eslint-disable-next-line no-restricted-syntax -- cleanup: the bucket name is unique to this run, a leftover disturbs nothing
    if (bucket) await removeTestBucket(s3, bucket).catch(() => {});
    await database?.drop();
  });

  test('every enabled instance keeps uploading through the whole drill; no key is left on the old id', async () => {
    const live = names();
    const api1 = await api(oldKey.publicKey);
    const worker1 = await worker(live, { STOWAGE_SEAL_SECRET_KEY: oldKey.privateKey });
    const outcomes = await collect(live);
    for (const instance of instances) {
      const answer = await postConfig(api1.url, token, instance, bucketConfig(bucket, 'drill/'));
      assert.equal(answer.status, 200, answer.body);
      await untilProjected(api1.url, token, instance);
    }
    const traffic = new DrillTraffic(api1.url, {
      token,
      instances,
      bucket,
      producer,
      topic: live.requested,
    });
    try {
      await pause(1_500);
      // 1. Generate the new master key.
      const generated = await runStowage(['keys', 'generate'], {});
      const fresh = JSON.parse(generated.stdout) as Record<string, string>;
      const newSecret = fresh.STOWAGE_SEAL_SECRET_KEY!;
      const newPublic = fresh.STOWAGE_SEAL_PUBLIC_KEY!;
      const bothSecrets = {
        STOWAGE_SEAL_SECRET_KEY: newSecret,
        STOWAGE_SEAL_RETIRED_SECRET_KEYS: oldKey.privateKey,
      };
      // 2. Workers first hold both secrets, so they open keys sealed to either.
      const worker2 = await worker(live, bothSecrets);
      await worker1.stop();
      await pause(1_000);
      // 3. The API seals new instance keys to the new public key.
      const api2 = await api(newPublic);
      traffic.apiUrl = api2.url;
      await pause(500); // requests already sent to the old API finish
      await api1.stop();
      // A new instance, enabled under the new key, joins the traffic.
      const joining = `drill-new-${randomUUID().slice(0, 6)}`;
      await access.createInstance(account, joining);
      const enabled = await postConfig(api2.url, token, joining, bucketConfig(bucket, 'drill/'));
      assert.equal(enabled.status, 200, enabled.body);
      await untilProjected(api2.url, token, joining);
      instances.push(joining);
      // 4. Rotate.
      const rotated = await runStowage(['keys', 'rotate', '--batch-size', '4'], {
        DATABASE_URL: database.url,
        ...bothSecrets,
      });
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.equal(keysOn(await keysStatus(newSecret), oldKey.id), 0);
      // 5. Workers hold only the new secret.
      const worker3 = await worker(live, { STOWAGE_SEAL_SECRET_KEY: newSecret });
      await worker2.stop();
      await pause(1_500);
      await traffic.stop();

      assert.deepEqual(traffic.postFailures, []);
      assert.ok(traffic.sent.length > 20, `${traffic.sent.length} messages sent`);
      await outcomes.waitFor(
        () => traffic.sent.every((id) => outcomes.completed.has(id) || outcomes.failed.has(id)),
        90_000,
        'an outcome of every message sent',
      );
      assert.deepEqual([...outcomes.failed.values()].flat(), [], 'no message failed');
      const status = await keysStatus(newSecret);
      assert.equal(keysOn(status, oldKey.id), 0);
      assert.equal(keysOn(status, status.currentMasterKeyId ?? ''), instances.length);
      assert.ok(!(await worker3.flushedLog()).includes('master-key-unavailable'));
      const apiLog = await api2.flushedLog();
      assert.ok(!apiLog.includes(newSecret) && !apiLog.includes(oldKey.privateKey));
    } finally {
      await traffic.stop();
    }
  });

  test('a worker with only the old secret fails fast with master-key-unavailable, says so once, and is not ready', async () => {
    const stale = names();
    const oldOnly = await worker(stale, { STOWAGE_SEAL_SECRET_KEY: oldKey.privateKey });
    const outcomes = await collect(stale);
    const requests = instances.slice(0, 4).flatMap((instance) =>
      [1, 2].map(() => ({
        id: randomUUID(),
        instance,
        contentType: 'text/plain',
        source: { base64: Buffer.from('late').toString('base64') },
      })),
    );
    await sendRequests(producer, stale.requested, requests);
    for (const { id } of requests) {
      const { failed, completed } = await outcomes.outcomeOf(id, 60_000);
      assert.equal(completed, undefined);
      assert.equal(failed?.code, 'master-key-unavailable');
      assert.equal(failed?.retryable, false);
      assert.equal(failed?.attempts, 1, 'not retried');
    }
    const logged = (await oldOnly.flushedLog())
      .split('\n')
      .filter((line) => line.includes('add its secret'));
    assert.equal(logged.length, 1, 'the missing key id is logged once, not per message');

    const ready = await fetch(`${oldOnly.url}/health/ready`);
    assert.equal(ready.status, 503);
    const metrics = await (await fetch(`${oldOnly.url}/metrics`)).text();
    assert.match(metrics, /^stowage_master_keys_unavailable 1$/m);
    // At least once per request: a message delivered again (a rebalance) is counted again.
    const counted =
      /^stowage_media_uploads_total\{outcome="failed",code="master-key-unavailable"\} (\d+)$/m.exec(
        metrics,
      );
    assert.ok(Number(counted?.[1]) >= requests.length, counted?.[0] ?? 'no such series');
    assert.doesNotMatch(metrics, /stowage_media_upload_retries_total\{code="master-key/);
  });
});

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
