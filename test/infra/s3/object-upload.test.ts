import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { uploadObject } from '../../../src/infra/s3/object-upload.ts';
import { uploadPartSize as partSize } from '../../../src/infra/s3/streamed-upload.ts';
import {
  createTestBucket,
  multipartUploadsIn,
  objectKeys,
  removeTestBucket,
  testS3Client,
} from '../../support/buckets.ts';

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
});
