import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mediaLinks, publicObjectUrl } from '../../../src/workers/media-upload/media-links.ts';

const presigned = {
  url: 'https://s3.example.com/b/k?X-Amz-Signature=abc',
  expiresAt: new Date('2026-12-08T00:00:00.000Z'),
};

test('without a public base URL the link is the presigned one, with its expiry, as before', () => {
  assert.deepEqual(mediaLinks('media/a.jpg', presigned, undefined), {
    url: presigned.url,
    urlExpiresAt: '2026-12-08T00:00:00.000Z',
  });
});

test('with one, the link is the base and the key, which does not expire; the presigned one comes too', () => {
  assert.deepEqual(mediaLinks('media/a.jpg', presigned, 'https://cdn.example.com/wa/'), {
    url: 'https://cdn.example.com/wa/media/a.jpg',
    presignedUrl: presigned.url,
    presignedUrlExpiresAt: '2026-12-08T00:00:00.000Z',
  });
});

test('each key segment is encoded on its own; the slashes between them stay', () => {
  const key = 'mídia/2026 11/a+b#c?d%e/x.jpg';
  const url = publicObjectUrl('https://cdn.example.com/', key);
  assert.equal(url, 'https://cdn.example.com/m%C3%ADdia/2026%2011/a%2Bb%23c%3Fd%25e/x.jpg');
  const parsed = new URL(url);
  assert.equal(parsed.search, '');
  assert.equal(parsed.hash, '');
  assert.equal(parsed.pathname.slice(1).split('/').map(decodeURIComponent).join('/'), key);
});
