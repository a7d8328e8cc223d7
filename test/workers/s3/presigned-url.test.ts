import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { presignedGetUrl } from '../../../src/infra/s3/presigned-url.ts';
import { createS3Client, type S3Location } from '../../../src/infra/s3/s3-client.ts';

const keys = [
  'media/one/3f2a.jpg',
  'media/one/with space & ünïcode/(1)!*.png',
  "media/one/quote'd/a+b=c?d#e.txt",
  'plain',
  'deep/er/and/deeper/x.bin',
];

const locations: Record<string, S3Location> = {
  'an S3-compatible endpoint (path-style)': {
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9000',
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'not-a-real-secret',
  },
  'AWS itself (virtual-hosted)': {
    region: 'eu-west-3',
    endpoint: '',
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'not-a-real-secret',
  },
};

for (const [where, location] of Object.entries(locations)) {
  test(`URLs signed after the first are exactly the SDK's own, on ${where}`, async () => {
    const client = createS3Client(location);
    const now = new Date('2026-12-02T02:00:00Z');
    for (const bucket of ['media-bucket', 'other.bucket-2']) {
      for (const key of keys) {
        const expected = await getSignedUrl(
          client,
          new GetObjectCommand({ Bucket: bucket, Key: key }),
          { expiresIn: 3600, signingDate: now },
        );
        const made = await presignedGetUrl(client, bucket, key, 3600, now);
        assert.equal(made.url, expected, `${bucket}/${key}`);
        assert.equal(made.objectUrl, expected.split('?')[0]);
        assert.equal(made.expiresAt.toISOString(), '2026-12-02T03:00:00.000Z');
      }
    }
  });
}

test('a URL is signed with the credentials of the client it was asked of', async () => {
  const [first, second] = ['secret-one', 'secret-two'].map((secretAccessKey) =>
    createS3Client({ ...locations['AWS itself (virtual-hosted)']!, secretAccessKey }),
  );
  const now = new Date('2026-12-02T02:00:00Z');
  await presignedGetUrl(first!, 'b', 'warm', 60, now);
  await presignedGetUrl(second!, 'b', 'warm', 60, now);
  const one = await presignedGetUrl(first!, 'b', 'k', 60, now);
  const two = await presignedGetUrl(second!, 'b', 'k', 60, now);
  assert.notEqual(one.url, two.url);
  assert.equal(
    two.url,
    await getSignedUrl(second!, new GetObjectCommand({ Bucket: 'b', Key: 'k' }), {
      expiresIn: 60,
      signingDate: now,
    }),
  );
});
