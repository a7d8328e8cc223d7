import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PutObjectAclCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Kafka, Producer } from 'kafkajs';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { kafkaBrokers, s3TestServer } from '../support/services.ts';
import {
  bucketConfig,
  createTestBucket,
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
import { patternBytes } from '../support/media-server.ts';
import { startTestWorker, type TestWorker } from '../support/in-process-worker.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

/**
 * Permanent links against the real broker and S3 server. S3Proxy speaks plain http, and a
 * publicBaseUrl must be https, so the instance's base is a CDN host in front of the test server,
 * `https://cdn.example.test/<bucket>/`; the test plays that CDN by asking the S3 server for the
 * link's path. S3Proxy 4.1 serves anonymous GETs of objects whose ACL is public-read (a
 * public-read bucket ACL does not open its objects, and bucket policies are not implemented), so
 * the bucket's owner makes the object public as a public bucket would.
 */
describe('permanent media links, end to end', () => {
  let service: ConfiguredService;
  let kafka: Kafka;
  let producer: Producer;
  let s3: S3Client;
  let bucket: string;
  let names: WorkerNames;
  let outcomes: OutcomeCollector;
  let running: TestWorker;
  const server = () => s3TestServer();
  const config = (extra: { publicBaseUrl?: string } = {}) => ({
    ...bucketConfig(bucket, 'mídia pública/2026+12/'),
    ...extra,
  });
  const base = () => `https://cdn.example.test/${bucket}/`;
  const throughTheCdn = (url: string) => fetch(`${server().endpoint}${new URL(url).pathname}`);

  before(async () => {
    kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
    s3 = testS3Client();
    bucket = await createTestBucket(s3);
    service = await ConfiguredService.start();
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
  });

  const upload = async (instance: string, bytes: Buffer) => {
    const id = randomUUID();
    await sendRequests(producer, names.requested, [
      {
        id,
        instance,
        fileName: 'Foto (1).JPG',
        contentType: 'image/jpeg',
        source: { base64: bytes.toString('base64') },
      },
    ]);
    const { completed, failed } = await outcomes.outcomeOf(id);
    assert.ok(completed, `completed, not ${JSON.stringify(failed)}`);
    return completed;
  };

  test('with publicBaseUrl: url is the base plus the key, lasting; the presigned link comes beside it', async () => {
    const instance = await service.createInstance();
    await service.configure(instance, config({ publicBaseUrl: base() }));
    const bytes = patternBytes(70_000);

    const completed = await upload(instance, bytes);

    assert.equal(completed.key, `mídia pública/2026+12/${completed.id}.jpg`);
    assert.ok(completed.url.startsWith(base()), completed.url);
    const linkedKey = completed.url.slice(base().length).split('/').map(decodeURIComponent);
    assert.equal(linkedKey.join('/'), completed.key, "the link's path is the object's key");
    assert.equal(new URL(completed.url).search, '', 'no signature, so nothing expires');
    assert.equal('urlExpiresAt' in completed, false);
    assert.ok(Date.parse(completed.presignedUrlExpiresAt!) > Date.now() + 6 * 24 * 3600 * 1000);
    const presigned = await fetch(completed.presignedUrl!);
    assert.equal(presigned.status, 200);
    assert.ok(Buffer.from(await presigned.arrayBuffer()).equals(bytes));

    assert.equal((await throughTheCdn(completed.url)).status, 403, 'not public yet');
    await s3.send(
      new PutObjectAclCommand({ Bucket: bucket, Key: completed.key, ACL: 'public-read' }),
    );
    const anonymous = await throughTheCdn(completed.url);
    assert.equal(anonymous.status, 200);
    assert.ok(Buffer.from(await anonymous.arrayBuffer()).equals(bytes), 'the same bytes');
  });

  test('without publicBaseUrl the outcome is as before: a presigned url and its expiry', async () => {
    const instance = await service.createInstance();
    await service.configure(instance, config());

    const completed = await upload(instance, Buffer.from('jpeg bytes'));

    assert.deepEqual(Object.keys(completed).sort(), [
      'bucket',
      'contentType',
      'etag',
      'id',
      'instance',
      'key',
      'location',
      'size',
      'url',
      'urlExpiresAt',
    ]);
    assert.match(completed.url, /X-Amz-Signature=/);
    const viaUrl = await fetch(completed.url);
    assert.equal(await viaUrl.text(), 'jpeg bytes');
  });
});
