import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../../src/infra/s3/s3-client.ts';
import { s3TestServer } from '../../support/services.ts';

test('put, head and get an object on the real S3 server through path-style addressing', async () => {
  const s3 = createS3Client(s3TestServer());
  const Bucket = `smoke-${randomUUID().slice(0, 8)}`;
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(
    new PutObjectCommand({ Bucket, Key: 'media/a.txt', Body: 'hello', ContentType: 'text/plain' }),
  );

  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'media/a.txt' }));
  assert.equal(head.ContentLength, 5);
  assert.equal(head.ContentType, 'text/plain');
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'media/a.txt' }));
  assert.equal(await got.Body!.transformToString(), 'hello');
});

test('a wrong secret key is rejected by the server with a signature error', async () => {
  const server = s3TestServer();
  const s3 = createS3Client({ ...server, secretAccessKey: `${server.secretAccessKey}-wrong` });
  await assert.rejects(
    s3.send(new PutObjectCommand({ Bucket: 'anything', Key: 'k', Body: 'x' })),
    (error: { name: string; $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(error.$metadata?.httpStatusCode, 403);
      assert.equal(error.name, 'SignatureDoesNotMatch');
      return true;
    },
  );
});
