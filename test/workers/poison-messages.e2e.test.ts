import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Admin, Kafka, Producer } from 'kafkajs';
import type { S3Client } from '@aws-sdk/client-s3';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { kafkaBrokers } from '../support/services.ts';
import {
  bucketConfig,
  createTestBucket,
  multipartUploadsIn,
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
  type UploadRequestMessage,
  type WorkerNames,
} from '../support/kafka.ts';
import { patternBytes, startMediaServer, type MediaServer } from '../support/media-server.ts';
import { startTestWorker, type TestWorker } from '../support/in-process-worker.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

/**
 * One bad message never stops its partition: each poison message below is followed by valid ones
 * on the same (single-partition) topic, against the real broker and S3 server.
 */
describe('poison messages, end to end', () => {
  let service: ConfiguredService;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let s3: S3Client;
  let bucket: string;
  let instance: string;
  let media: MediaServer;
  let trickle: { url: string; close(): Promise<void> };
  const topicSets: WorkerNames[] = [];
  const workers: TestWorker[] = [];
  const collectors: OutcomeCollector[] = [];

  // Topics made before the worker, as someone else may have: one partition, and the given limits.
  const topicsWith = async (limits: { requested?: number; failed?: number }) => {
    const names = uniqueWorkerNames();
    topicSets.push(names);
    const made = [
      [names.requested, limits.requested],
      [names.failed, limits.failed],
    ] as const;
    await admin.createTopics({
      waitForLeaders: true,
      topics: made.map(([topic, maxBytes]) => ({
        topic,
        numPartitions: 1,
        configEntries:
          maxBytes === undefined ? [] : [{ name: 'max.message.bytes', value: String(maxBytes) }],
      })),
    });
    return names;
  };
  const startWorker = async (names: WorkerNames, env: Record<string, string> = {}) => {
    const started = await startTestWorker(service, names, {
      STOWAGE_TOPIC_PARTITIONS: '1',
      STOWAGE_MEDIA_DOWNLOAD_TIMEOUT_MS: '3000',
      ...env,
    });
    workers.push(started);
    const outcomes = await OutcomeCollector.start(kafka, names);
    collectors.push(outcomes);
    return { ...started, outcomes };
  };
  const valid = (body: string): UploadRequestMessage => ({
    id: randomUUID(),
    instance,
    contentType: 'text/plain',
    source: { base64: Buffer.from(body).toString('base64') },
  });

  before(async () => {
    kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
    admin = kafka.admin();
    await admin.connect();
    s3 = testS3Client();
    bucket = await createTestBucket(s3);
    service = await ConfiguredService.start();
    instance = await service.createInstance();
    await service.configure(instance, bucketConfig(bucket, 'poison/'));
    producer = kafka.producer();
    await producer.connect();
    media = await startMediaServer();
    trickle = await startTrickleServer();
  });

  after(async () => {
    for (const running of workers) await running.worker.stop();
    for (const outcomes of collectors) await outcomes.stop();
    await producer?.disconnect();
    // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
    for (const names of topicSets) await deleteTopics(kafka, names).catch(() => {});
    await admin?.disconnect();
    await media?.close();
    await trickle?.close();
    await service?.close();
    await removeTestBucket(s3, bucket);
  });

  test('a 5 MiB message, a CR/LF content type and a trickling URL each end as one failed outcome; every valid message behind them is uploaded', async () => {
    const names = await topicsWith({ requested: 8 * 1024 * 1024 });
    const { outcomes, logs } = await startWorker(names);
    assert.match(
      logs.join(''),
      new RegExp(
        `topic ${names.requested} has max\\.message\\.bytes=8388608, the settings say 1048576`,
      ),
    );

    const huge = `{"id":"huge","instance":"${instance}","oops":"${'x'.repeat(5 * 1024 * 1024)}`;
    // Within the limit, but no upload request (no contentType, no source): described, not copied.
    const broken = JSON.stringify({ id: 'broken', instance, padding: 'y'.repeat(900 * 1024) });
    const crlf = { ...valid('never'), contentType: 'text/plain\r\n; x-amz-acl=public-read' };
    const slow = { ...valid('never'), source: { url: trickle.url } };
    const stalled = {
      ...valid('never'),
      contentType: 'application/octet-stream',
      // 24 MiB at 4 MiB/s: a part is on the server when the 3 s deadline strikes.
      source: { url: media.url(`/bytes/${24 * 1024 * 1024}?kbps=4096`) },
    };
    const fromUrl = { ...valid(''), source: { url: media.url('/bytes/300000') } };
    const good = Array.from({ length: 6 }, (_, i) => valid(`valid ${i}`));
    const sequence = [
      { key: instance, value: huge },
      good[0]!,
      { key: instance, value: broken },
      good[1]!,
      crlf,
      good[2]!,
      slow,
      good[3]!,
      stalled,
      fromUrl,
      good[4]!,
      good[5]!,
    ];
    // One at a time: a produce request has to stay under the broker's request limit.
    for (const message of sequence) await sendRequests(producer, names.requested, [message]);

    for (const message of [...good, fromUrl]) {
      const { completed, failed } = await outcomes.outcomeOf(message.id, 60_000);
      assert.equal(failed, undefined, JSON.stringify(failed));
      assert.ok(completed);
      const stored = Buffer.from(await (await fetch(completed.url)).arrayBuffer());
      const expected =
        'base64' in message.source
          ? Buffer.from(message.source.base64, 'base64')
          : patternBytes(300_000);
      assert.ok(stored.equals(expected), `the bytes of ${message.id}`);
    }
    const hugeOutcome = (await outcomes.outcomeOf('null')).failed!;
    assert.equal(hugeOutcome.code, 'message-too-large');
    assert.equal(hugeOutcome.retryable, false);
    assert.deepEqual(
      { ...hugeOutcome.message, excerpt: undefined },
      {
        topic: names.requested,
        partition: 0,
        offset: '0',
        size: Buffer.byteLength(huge),
        sha256: createHash('sha256').update(huge).digest('hex'),
        key: { text: instance, encoding: 'utf8', truncated: false },
        excerpt: undefined,
      },
    );
    assert.equal(hugeOutcome.message?.excerpt?.text, huge.slice(0, 256));
    const brokenOutcome = (await outcomes.outcomeOf('broken')).failed!;
    assert.equal(brokenOutcome.code, 'invalid-message');
    assert.equal(brokenOutcome.message?.size, Buffer.byteLength(broken));
    for (const [message, code] of [
      [crlf, 'invalid-message'],
      [slow, 'source-too-slow'],
      [stalled, 'source-too-slow'],
    ] as const) {
      const { failed, completed } = await outcomes.outcomeOf(message.id);
      assert.equal(completed, undefined);
      assert.equal(failed?.code, code, JSON.stringify(failed));
      assert.equal(failed.retryable, false);
      assert.equal(failed.attempts, 1);
    }
    assert.match(
      (await outcomes.outcomeOf(crlf.id)).failed!.reason,
      /^invalid upload request: contentType/,
    );
    assert.deepEqual(await multipartUploadsIn(s3, bucket), [], 'the stalled upload was aborted');
    const { text } = await objectText(s3, bucket, `poison/${good[5]!.id}.txt`);
    assert.equal(text, 'valid 5');

    // Exactly one outcome each: nothing was retried or redelivered behind the valid ones.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const id of ['null', 'broken', crlf.id, slow.id, stalled.id]) {
      assert.equal(outcomes.failed.get(id)?.length, 1, id);
      assert.equal(outcomes.completed.has(id), false, id);
    }
  });

  test('an outcome the failed topic refuses ends as a minimal one, or none; the partition advances either way', async () => {
    // Room for a minimal outcome, not for one describing a message.
    const names = await topicsWith({ failed: 600 });
    const { outcomes, logs } = await startWorker(names);
    const described = JSON.stringify({ id: 'described', instance, padding: 'z'.repeat(1000) });
    // Even its minimal outcome names an id and an instance of 200 characters each.
    const unanswerable = JSON.stringify({ id: 'u'.repeat(200), instance: 'i'.repeat(200) });
    const after = valid('after both');
    const sequence = [
      { key: instance, value: described },
      { key: instance, value: unanswerable },
      after,
    ];
    for (const message of sequence) await sendRequests(producer, names.requested, [message]);

    assert.ok((await outcomes.outcomeOf(after.id)).completed, 'the message behind them completed');
    const minimal = (await outcomes.outcomeOf('described')).failed!;
    assert.equal(minimal.code, 'outcome-unpublishable');
    assert.match(
      minimal.reason,
      /^the failed outcome could not be published \(MESSAGE_TOO_LARGE\)/,
    );
    assert.deepEqual(minimal.message, {
      topic: names.requested,
      partition: 0,
      offset: '0',
      size: 0,
      sha256: null,
      key: null,
      excerpt: null,
    });
    assert.equal(outcomes.failed.size, 1, 'the unanswerable message has no outcome');
    assert.match(logs.join(''), /"offset":"1".*passed over without one/);

    // Its offset is committed with the others: a restart does not meet either message again.
    let committed = '';
    for (const deadline = Date.now() + 20_000; committed !== '3' && Date.now() < deadline;) {
      const [offsets] = await admin.fetchOffsets({
        groupId: names.group,
        topics: [names.requested],
      });
      committed = offsets?.partitions[0]?.offset ?? '';
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(committed, '3');
  });
});

/** A media URL that sends a byte every 300 ms, for ever. */
async function startTrickleServer() {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => response.write('.'), 300);
    response.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/media`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
