import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createMetrics } from '../../src/http/metrics.ts';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { kafkaBrokers, kafkaSaslTlsSettings, s3TestServer } from '../support/services.ts';
import {
  bucketConfig,
  createTestBucket,
  multipartUploadsIn,
  objectKeys,
  objectText,
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
import {
  patternBytes,
  patternSha256,
  startMediaServer,
  type MediaServer,
} from '../support/media-server.ts';
import { startStowage, type StowageProcess } from '../support/stowage-process.ts';
import { startTestWorker, workerEnvFor, type TestWorker } from '../support/in-process-worker.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

const testServicesScript = fileURLToPath(
  new URL('../../scripts/test-services.sh', import.meta.url),
);
const retryQuickly = {
  STOWAGE_UPLOAD_RETRY_MAX_MS: '120000',
  STOWAGE_UPLOAD_RETRY_DELAY_MAX_MS: '2000',
};

describe('the media-upload worker, end to end', () => {
  let service: ConfiguredService;
  let kafka: Kafka;
  let producer: Producer;
  let s3: S3Client;
  let bucket: string;
  let names: WorkerNames;
  let outcomes: OutcomeCollector;
  let media: MediaServer;
  let running: TestWorker;
  let instance: string;
  const metrics = createMetrics();
  // Deleted only at the end: the shared producer's metadata would trip over a topic gone missing.
  const topicSets: WorkerNames[] = [];
  const processes: StowageProcess[] = [];
  const spawnWorker = async (env: Record<string, string>) => {
    // The compiled build with Node's default flags, as `npm start` and the image run the worker:
    // its memory bound must hold there.
    const started = await startStowage({
      args: ['serve', '--roles', 'worker'],
      env,
      waitFor: 'live',
    });
    processes.push(started);
    return started;
  };
  const moreNames = () => {
    const more = uniqueWorkerNames();
    topicSets.push(more);
    return more;
  };
  const server = () => s3TestServer();
  const goodConfig = () => bucketConfig(bucket, 'media/e2e/');

  before(async () => {
    kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
    s3 = testS3Client();
    bucket = await createTestBucket(s3);
    service = await ConfiguredService.start();
    media = await startMediaServer();
    names = moreNames();
    instance = await service.createInstance();
    await service.configure(instance, goodConfig());
    producer = kafka.producer();
    await producer.connect();
    running = await startTestWorker(service, names, retryQuickly);
    outcomes = await OutcomeCollector.start(kafka, names);
  });

  after(async () => {
    await running?.worker.stop();
    await outcomes?.stop();
    await producer?.disconnect();
    for (const left of processes) left.child.kill('SIGKILL');
    // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
    for (const set of topicSets) await deleteTopics(kafka, set).catch(() => {});
    await media?.close();
    await service?.close();
    await removeTestBucket(s3, bucket);
  });

  test('objects appear under the prefix with their content and type; completed outcomes carry a working URL', async () => {
    const photo = randomUUID();
    const video = randomUUID();
    const note = randomUUID();
    await sendRequests(producer, names.requested, [
      {
        id: photo,
        instance,
        fileName: 'Holiday.JPG',
        contentType: 'image/jpeg',
        source: { base64: Buffer.from('jpeg bytes').toString('base64') },
        metadata: { chat: '5511999999999' },
      },
      {
        id: video,
        instance,
        contentType: 'video/mp4',
        source: { url: media.url('/bytes/200000') },
        sha256: patternSha256(200_000),
      },
      {
        id: note,
        instance,
        contentType: 'audio/ogg; codecs=opus',
        source: { base64: Buffer.from('ogg').toString('base64') },
      },
    ]);

    const first = (await outcomes.outcomeOf(photo)).completed;
    assert.ok(first, 'the photo completed');
    assert.equal(first.key, `media/e2e/${photo}.jpg`);
    assert.equal(first.bucket, bucket);
    assert.equal(first.size, 10);
    assert.equal(first.contentType, 'image/jpeg');
    assert.equal(first.location, `${server().endpoint}/${bucket}/${first.key}`);
    assert.ok(Date.parse(first.urlExpiresAt!) > Date.now() + 6 * 24 * 3600 * 1000);
    const viaUrl = await fetch(first.url);
    assert.equal(viaUrl.status, 200);
    assert.equal(await viaUrl.text(), 'jpeg bytes');
    assert.deepEqual(await objectText(s3, bucket, first.key), {
      text: 'jpeg bytes',
      contentType: 'image/jpeg',
    });

    const second = (await outcomes.outcomeOf(video)).completed;
    assert.ok(second, 'the video completed');
    assert.equal(second.key, `media/e2e/${video}.mp4`);
    assert.equal(second.size, 200_000);
    const stored = Buffer.from(await (await fetch(second.url)).arrayBuffer());
    assert.ok(stored.equals(patternBytes(200_000)));

    const third = (await outcomes.outcomeOf(note)).completed;
    assert.equal(third?.key, `media/e2e/${note}.ogg`);
    assert.equal((await objectText(s3, bucket, third.key)).contentType, 'audio/ogg; codecs=opus');
  });

  test('a request that cannot be served fails at once, carrying what identifies it', async () => {
    const broken = { key: instance, value: '{"id": "not json' };
    const mismatched = randomUUID();
    const metadataService = randomUUID();
    const missing = randomUUID();
    await sendRequests(producer, names.requested, [
      broken,
      {
        id: mismatched,
        instance,
        contentType: 'text/plain',
        source: { base64: Buffer.from('tampered').toString('base64') },
        sha256: patternSha256(8),
      },
      {
        id: metadataService,
        instance,
        contentType: 'text/plain',
        source: { url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' },
      },
      {
        id: missing,
        instance,
        contentType: 'text/plain',
        source: { url: media.url('/status/404') },
      },
    ]);

    await outcomes.waitFor(() => outcomes.failed.has('null'), 30_000, 'the invalid message');
    const invalid = outcomes.failed.get('null')![0]!;
    assert.equal(invalid.code, 'invalid-message');
    assert.equal(invalid.retryable, false);
    assert.equal(invalid.message?.excerpt?.text, broken.value, 'a short message is its excerpt');
    assert.equal(invalid.message?.size, broken.value.length);
    assert.equal(invalid.message?.key?.text, instance);

    const expectations: [string, string][] = [
      [mismatched, 'sha256-mismatch'],
      [metadataService, 'source-refused'],
      [missing, 'source-rejected'],
    ];
    for (const [id, code] of expectations) {
      const { failed, completed } = await outcomes.outcomeOf(id);
      assert.equal(completed, undefined);
      assert.equal(failed?.code, code, JSON.stringify(failed));
      assert.equal(failed.retryable, false);
      assert.equal(failed.attempts, 1);
    }
    const keys = await objectKeys(s3, bucket);
    assert.ok(!keys.some((key) => key.includes(mismatched)), 'no object for a corrupt upload');
  });

  test('a wrong secret fails with the signature error, shows as lastError, and a fix applies to the next message', async () => {
    await service.configure(instance, { ...goodConfig(), secretKey: 'not-the-secret-key' });
    const refused = randomUUID();
    await sendRequests(producer, names.requested, [
      { id: refused, instance, contentType: 'text/plain', source: { base64: 'YQ==' } },
    ]);
    const { failed } = await outcomes.outcomeOf(refused);
    assert.equal(failed?.code, 'SignatureDoesNotMatch');
    assert.match(failed.reason, /secret key does not match the access key/);
    assert.equal(failed.retryable, false);
    // The user sees the broken bucket in GET, without reading server logs.
    const status = await eventually(async () => {
      const view = await service.read(instance);
      return view.uploadStatus?.lastError?.reason.includes('SignatureDoesNotMatch')
        ? view.uploadStatus
        : undefined;
    });
    assert.ok(status.lastError);
    assert.equal(JSON.stringify(status).includes(goodConfig().secretKey ?? '\u0000'), false);

    await service.configure(instance, goodConfig());
    const accepted = randomUUID();
    await sendRequests(producer, names.requested, [
      { id: accepted, instance, contentType: 'text/plain', source: { base64: 'Yg==' } },
    ]);
    const { completed } = await outcomes.outcomeOf(accepted);
    assert.equal(completed?.key, `media/e2e/${accepted}.txt`);
    assert.ok(!running.logs.join('').includes('not-the-secret-key'), 'the secret is never logged');
    assert.ok(!running.logs.join('').includes(server().secretAccessKey));
  });

  test('a disable applies to the next message: storage-disabled, no upload; re-enabling works again', async () => {
    await service.configure(instance, { enabled: false });
    const refused = randomUUID();
    await sendRequests(producer, names.requested, [
      { id: refused, instance, contentType: 'text/plain', source: { base64: 'YQ==' } },
    ]);
    const { failed } = await outcomes.outcomeOf(refused);
    assert.equal(failed?.reason, 'storage-disabled');
    assert.equal(failed.retryable, false);
    assert.ok(!(await objectKeys(s3, bucket)).some((key) => key.includes(refused)));

    const never = await service.createInstance();
    const unconfigured = randomUUID();
    await sendRequests(producer, names.requested, [
      { id: unconfigured, instance: never, contentType: 'text/plain', source: { base64: 'YQ==' } },
    ]);
    assert.equal((await outcomes.outcomeOf(unconfigured)).failed?.code, 'storage-disabled');

    await service.configure(instance, goodConfig());
    const accepted = randomUUID();
    await sendRequests(producer, names.requested, [
      { id: accepted, instance, contentType: 'text/plain', source: { base64: 'Yg==' } },
    ]);
    assert.ok((await outcomes.outcomeOf(accepted)).completed);
  });

  test('stopping abandons an upload in flight, aborts its multipart upload and redelivers it', async () => {
    const slow = randomUUID();
    await sendRequests(producer, names.requested, [
      {
        id: slow,
        instance,
        contentType: 'application/octet-stream',
        // 24 MiB at 4 MiB/s: several parts, the first ones on the server before the stop.
        source: { url: media.url(`/bytes/${24 * 1024 * 1024}?kbps=4096`) },
      },
    ]);
    await eventually(async () =>
      (await multipartUploadsIn(s3, bucket)).length > 0 ? true : undefined,
    );
    const started = Date.now();
    await running.worker.stop();
    assert.ok(Date.now() - started < 10_000, 'stopped within the shutdown bound');
    assert.deepEqual(await multipartUploadsIn(s3, bucket), [], 'the multipart upload was aborted');
    assert.equal(outcomes.completed.has(slow) || outcomes.failed.has(slow), false);

    running = await startTestWorker(service, names, retryQuickly, metrics.uploads);
    const { completed } = await outcomes.outcomeOf(slow, 60_000);
    assert.equal(completed?.size, 24 * 1024 * 1024);
  });

  test('a worker killed with 500 messages in flight loses none: after a restart each ends as an object or a failed outcome', async () => {
    const crashNames = moreNames();
    const env = { ...workerEnvFor(service, crashNames), STOWAGE_UPLOAD_CONCURRENCY: '6' };
    const instances = [instance, await service.createInstance(), await service.createInstance()];
    for (const other of instances.slice(1)) await service.configure(other, goodConfig());
    const payload = randomBytes(10 * 1024).toString('base64');
    const ids = Array.from({ length: 500 }, () => randomUUID());
    const first = await spawnWorker(env);
    const crashOutcomes = await OutcomeCollector.start(kafka, crashNames);
    try {
      // In sends of 50: a produce request has to stay under the broker's 1 MB.
      for (let from = 0; from < ids.length; from += 50) {
        await sendRequests(
          producer,
          crashNames.requested,
          ids.slice(from, from + 50).map((id, i) => ({
            id,
            instance: instances[(from + i) % instances.length]!,
            contentType: 'application/octet-stream',
            source: { base64: payload },
          })),
        );
      }
      await crashOutcomes.waitFor(() => crashOutcomes.completed.size >= 100, 60_000, '100 uploads');
      await first.stop('SIGKILL');
      const before = crashOutcomes.completed.size;
      assert.ok(before < ids.length, `killed with ${ids.length - before} messages in flight`);

      const second = await spawnWorker(env);
      const ended = (id: string) => crashOutcomes.completed.has(id) || crashOutcomes.failed.has(id);
      await crashOutcomes.waitFor(() => ids.every(ended), 90_000, 'an outcome for every message');
      assert.equal(await second.stop(), 0, 'a graceful stop exits 0');

      const keys = new Set(await objectKeys(s3, bucket));
      for (const id of ids) {
        const completed = crashOutcomes.completed.get(id);
        if (completed) assert.ok(keys.has(completed[0]!.key), `object of ${id}`);
      }
      assert.equal(
        crashOutcomes.failed.size,
        0,
        JSON.stringify([...crashOutcomes.failed.values()]),
      );
    } finally {
      await crashOutcomes.stop();
    }
  });

  // Node's default flags, as `npm start` runs it: Node 20 peaked at 135 MiB, Node 24 at 158 MiB
  // (2026-12-02; 152 and 221 MiB before the worker reused its part buffers and collected the
  // download's dead chunks while young, see src/infra/young-garbage.ts).
  test('a 512 MiB object streams through a worker process whose peak RSS stays under 200 MiB', async () => {
    const bigNames = moreNames();
    const size = 512 * 1024 * 1024;
    const digest = patternSha256(size);
    const worker = await spawnWorker(workerEnvFor(service, bigNames));
    const bigOutcomes = await OutcomeCollector.start(kafka, bigNames);
    try {
      const id = randomUUID();
      await sendRequests(producer, bigNames.requested, [
        {
          id,
          instance,
          contentType: 'video/mp4',
          source: { url: media.url(`/bytes/${size}`) },
          sha256: digest,
        },
      ]);
      const { completed, failed } = await bigOutcomes.outcomeOf(id, 180_000);
      assert.equal(failed, undefined, JSON.stringify(failed));
      assert.equal(completed?.size, size);
      const peak = worker.peakRssMiB();
      console.log(`512 MiB upload: worker peak RSS ${peak.toFixed(1)} MiB`);
      assert.ok(peak < 200, `peak RSS ${peak.toFixed(1)} MiB`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: completed.key }));
      assert.equal(head.ContentLength, size);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: completed.key }));
    } finally {
      await worker.stop();
      await bigOutcomes.stop();
    }
  });

  test('a worker process on a SASL_SSL listener (SCRAM-SHA-512, a CA file) uploads, its log without the password', async () => {
    const securedNames = moreNames();
    const secured = kafkaSaslTlsSettings();
    const worker = await spawnWorker({ ...workerEnvFor(service, securedNames), ...secured });
    const securedOutcomes = await OutcomeCollector.start(kafka, securedNames);
    try {
      const id = randomUUID();
      await sendRequests(producer, securedNames.requested, [
        { id, instance, contentType: 'text/plain', source: { base64: 'c2VjdXJlZA==' } },
      ]);
      const { completed, failed } = await securedOutcomes.outcomeOf(id);
      assert.equal(failed, undefined, JSON.stringify(failed));
      assert.deepEqual(await objectText(s3, bucket, completed!.key), {
        text: 'secured',
        contentType: 'text/plain',
      });
      assert.equal(await worker.stop(), 0);
      assert.equal((await worker.flushedLog()).includes(secured.KAFKA_SASL_PASSWORD!), false);
    } finally {
      await worker.stop();
      await securedOutcomes.stop();
    }
  });

  // Last: other test files must not meet the S3 server while it is down.
  test('with the S3 server stopped for 20 s mid-run no message is lost, and the worker catches up', async () => {
    const ids: string[] = [];
    let producing = true;
    const steady = (async () => {
      while (producing) {
        const id = randomUUID();
        ids.push(id);
        await sendRequests(producer, names.requested, [
          { id, instance, contentType: 'text/plain', source: { base64: 'b3V0YWdl' } },
        ]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await testServices('stop-s3');
      await new Promise((resolve) => setTimeout(resolve, 20_000));
    } finally {
      await testServices('start-s3');
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    producing = false;
    await steady;

    await outcomes.waitFor(
      () => ids.every((id) => outcomes.completed.has(id) || outcomes.failed.has(id)),
      90_000,
      'an outcome for every message',
    );
    assert.deepEqual(
      ids.filter((id) => outcomes.failed.has(id)),
      [],
      'nothing failed: the outage was shorter than the retry bound',
    );
    const keys = new Set(await objectKeys(s3, bucket));
    assert.ok(ids.every((id) => keys.has(`media/e2e/${id}.txt`)));
    const retries = await metrics.registry.getSingleMetricAsString(
      'stowage_media_upload_retries_total',
    );
    assert.match(retries, /stowage_media_upload_retries_total\{code="[^"]+"\} [1-9]/);
  });
});

function testServices(command: 'stop-s3' | 'start-s3'): Promise<void> {
  return new Promise((resolve, reject) =>
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an ExecFileException is an Error; its Omit<> type hides that
    execFile(testServicesScript, [command], (error) => (error ? reject(error) : resolve())),
  );
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
