import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import { uploadObject } from '../../../src/infra/s3/object-upload.ts';
import { createS3Client } from '../../../src/infra/s3/s3-client.ts';
import { uploadPartSize as partSize } from '../../../src/infra/s3/streamed-upload.ts';
import {
  createTestBucket,
  multipartUploadsIn,
  objectKeys,
  removeTestBucket,
  testS3Client,
} from '../../support/buckets.ts';
import { startPartHoldingRelay } from '../../support/part-holding-relay.ts';
import { s3TestServer } from '../../support/services.ts';

/** `bytes` as a stream of uneven chunks, as a socket delivers them; optionally failing at its end. */
function chunked(bytes: Buffer, failAtEnd?: Error): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0, size = 1; offset < bytes.length; offset += size, size = size * 7 + 1) {
        size = Math.min(size % 200_000, bytes.length - offset) || 1;
        yield bytes.subarray(offset, offset + size);
      }
      if (failAtEnd) throw failAtEnd;
    })(),
  );
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('uploadObject against the real S3 server', () => {
  const s3 = testS3Client();
  let bucket: string;
  before(async () => (bucket = await createTestBucket(s3)));
  after(() => removeTestBucket(s3, bucket));

  const upload = (key: string, body: Readable) =>
    uploadObject({
      client: s3,
      bucket,
      key,
      body,
      contentType: 'video/mp4',
      metadata: { origin: 'test' },
      signal: new AbortController().signal,
    });

  // Sizes around the part boundaries: one PUT up to a part, parts beyond it, a short last part.
  for (const size of [0, 1, partSize, partSize + 1, 2 * partSize, 2 * partSize + 12_345]) {
    test(`a ${size}-byte stream is stored byte for byte, with its type and metadata`, async () => {
      const bytes = randomBytes(size);
      const key = `sizes/${size}`;
      const etag = await upload(key, chunked(bytes));
      const parts = Math.ceil(size / partSize);
      // A multipart object's ETag says how many parts it was stored in.
      assert.match(etag, parts > 1 ? new RegExp(`^[0-9a-f]{32}-${parts}$`) : /^[0-9a-f]{32}$/);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.ContentLength, size);
      assert.equal(head.ContentType, 'video/mp4');
      assert.deepEqual(head.Metadata, { origin: 'test' });
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(sha256(await object.Body!.transformToByteArray()), sha256(bytes));
    });
  }

  test('a stream failing at its end stores nothing and leaves no multipart upload', async () => {
    const failure = new Error('digest mismatch at the end');
    for (const size of [1000, 2 * partSize + 1]) {
      await assert.rejects(upload(`failed/${size}`, chunked(randomBytes(size), failure)), failure);
    }
    assert.deepEqual(
      (await objectKeys(s3, bucket)).filter((key) => key.startsWith('failed/')),
      [],
    );
    assert.deepEqual(await multipartUploadsIn(s3, bucket), []);
  });

  test('uploads after one another, and at once, keep their bytes apart', async () => {
    const objects = Array.from({ length: 4 }, (_, i) => randomBytes(partSize + 1000 * (i + 1)));
    await Promise.all(objects.map((bytes, i) => upload(`apart/${i}`, chunked(bytes))));
    for (const [i, bytes] of objects.entries()) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `apart/${i}` }));
      assert.equal(sha256(await object.Body!.transformToByteArray()), sha256(bytes), `object ${i}`);
    }
  });

  // A stop abandons what is in flight, but a part the server has in hand would be stored after
  // the abort that follows: kept and paid for under an upload that no longer exists, and on
  // S3Proxy never deleted, so that the bucket could not be.
  test(
    'a stop while a part is being stored waits for its answer, then aborts: the aborted upload keeps no part',
    { timeout: 30_000 },
    async () => {
      const relay = await startPartHoldingRelay(s3TestServer().endpoint);
      const agents = createGuardedAgents({ allowPrivate: true });
      const stopping = new AbortController();
      const client = createS3Client(
        { ...s3TestServer(), endpoint: relay.endpoint },
        { ...agents, timeoutMs: 10_000, exchangeWithinMs: 20_000, abandonOn: stopping.signal },
      );
      try {
        const Key = 'stopped/mid-part';
        // One part, then a source that has nothing more yet.
        const source = new Readable({ read() {} });
        source.push(randomBytes(partSize + 1));
        const uploading = uploadObject({
          client,
          bucket,
          key: Key,
          body: source,
          contentType: 'video/mp4',
          signal: stopping.signal,
        });
        let ended = false;
        const outcome = uploading.then(
          () => assert.fail('a stopped upload completed'),
          (error: unknown) => ((ended = true), error),
        );
        await relay.partArrived;
        const [inFlight] = (await multipartUploadsIn(s3, bucket)).filter((u) => u.Key === Key);
        assert.ok(inFlight?.UploadId);

        stopping.abort(new Error('stopping'));
        await delay(300);
        assert.equal(ended, false, 'the upload waits for the part in flight');
        relay.release();
        assert.match(String(await outcome), /stopping/);
        await relay.partAnswered;

        const partsLeft = await s3
          .send(new ListPartsCommand({ Bucket: bucket, Key, UploadId: inFlight.UploadId }))
          .then(
            (listed) => listed.Parts ?? [],
            (error: Error) => (error.name === 'NoSuchUpload' ? [] : Promise.reject(error)),
          );
        assert.deepEqual(partsLeft, []);
        assert.deepEqual(
          (await multipartUploadsIn(s3, bucket)).filter((u) => u.Key === Key),
          [],
        );
      } finally {
        await relay.close();
        agents.destroy();
      }
    },
  );
});
