import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PutObjectAclCommand } from '@aws-sdk/client-s3';
import { s3TestServer } from '../support/services.ts';
import { bucketConfig } from '../support/buckets.ts';
import { sendRequests } from '../support/kafka.ts';
import { patternBytes } from '../support/media-server.ts';
import { startUploadPipeline, type UploadPipeline } from '../support/upload-pipeline.ts';
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
  let pipeline: UploadPipeline;
  const server = () => s3TestServer();
  const config = (extra: { publicBaseUrl?: string } = {}) => ({
    ...bucketConfig(pipeline.bucket, 'mídia pública/2026+12/'),
    ...extra,
  });
  const base = () => `https://cdn.example.test/${pipeline.bucket}/`;
  const throughTheCdn = (url: string) => fetch(`${server().endpoint}${new URL(url).pathname}`);

  before(async () => {
    pipeline = await startUploadPipeline();
  });
  after(() => pipeline?.close());

  const upload = async (instance: string, bytes: Buffer) => {
    const id = randomUUID();
    await sendRequests(pipeline.producer, pipeline.names.requested, [
      {
        id,
        instance,
        fileName: 'Foto (1).JPG',
        contentType: 'image/jpeg',
        source: { base64: bytes.toString('base64') },
      },
    ]);
    const { completed, failed } = await pipeline.outcomes.outcomeOf(id);
    assert.ok(completed, `completed, not ${JSON.stringify(failed)}`);
    return completed;
  };

  test('with publicBaseUrl: url is the base plus the key, lasting; the presigned link comes beside it', async () => {
    const instance = await pipeline.service.createInstance();
    await pipeline.service.configure(instance, config({ publicBaseUrl: base() }));
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
    await pipeline.s3.send(
      new PutObjectAclCommand({ Bucket: pipeline.bucket, Key: completed.key, ACL: 'public-read' }),
    );
    const anonymous = await throughTheCdn(completed.url);
    assert.equal(anonymous.status, 200);
    assert.ok(Buffer.from(await anonymous.arrayBuffer()).equals(bytes), 'the same bytes');
  });

  test('without publicBaseUrl the outcome is as before: a presigned url and its expiry', async () => {
    const instance = await pipeline.service.createInstance();
    await pipeline.service.configure(instance, config());

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
