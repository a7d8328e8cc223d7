import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import { inlineMedia, meterMedia } from '../../../src/workers/media-upload/media-meter.ts';
import { openMediaUrl } from '../../../src/workers/media-upload/media-source.ts';
import { UploadFailedError } from '../../../src/workers/media-upload/upload-failure.ts';

let base: string;
const server = createServer((request, response) => {
  const target = request.url?.slice('/redirect?to='.length);
  if (request.url?.startsWith('/redirect?to=')) {
    return void response.writeHead(302, { location: decodeURIComponent(target!) }).end();
  }
  if (request.url === '/media') return void response.end('the media');
  if (request.url === '/cut') {
    response.writeHead(200, { 'content-length': 100 });
    response.write('only part');
    return void setTimeout(() => response.destroy(), 20);
  }
  response.writeHead(Number(request.url?.slice(1)) || 404).end();
});
const agents = createGuardedAgents({ allowPrivate: true });
const connection = { ...agents, timeoutMs: 2_000 };
const signal = new AbortController().signal;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  agents.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const failure = (code: string, transient: boolean) => (error: unknown) =>
  error instanceof UploadFailedError &&
  error.failure.code === code &&
  error.failure.transient === transient;

test('a URL is streamed, following redirects', async () => {
  const source = await openMediaUrl(`${base}/redirect?to=%2Fmedia`, connection, signal);
  assert.equal(await text(source), 'the media');
});

test('a redirect to a metadata address is refused like the address itself', async () => {
  const to = encodeURIComponent('http://169.254.169.254/latest/meta-data/');
  await assert.rejects(
    openMediaUrl(`${base}/redirect?to=${to}`, connection, signal),
    failure('source-refused', false),
  );
});

test('a 404 fails for good, a 503 is worth retrying', async () => {
  await assert.rejects(
    openMediaUrl(`${base}/404`, connection, signal),
    failure('source-rejected', false),
  );
  await assert.rejects(
    openMediaUrl(`${base}/503`, connection, signal),
    failure('source-rejected', true),
  );
});

test('a download cut short fails the metered body as the source, transient', async () => {
  const source = await openMediaUrl(`${base}/cut`, connection, signal);
  const media = meterMedia(source, undefined);
  await assert.rejects(text(media.body), failure('source-unavailable', true));
});

test('a streamed body is counted and checked against its digest at its end', async () => {
  const ok = meterMedia(await openMediaUrl(`${base}/media`, connection, signal), undefined);
  assert.equal(await text(ok.body), 'the media');
  assert.equal(ok.size(), 9);
  const wrong = meterMedia(
    await openMediaUrl(`${base}/media`, connection, signal),
    Buffer.alloc(32),
  );
  await assert.rejects(text(wrong.body), failure('sha256-mismatch', false));
});

test('media in the message are checked before anything is sent', () => {
  assert.equal(inlineMedia('aGVsbG8=', undefined).size(), 5);
  assert.throws(() => inlineMedia('aGVsbG8=', Buffer.alloc(32)), failure('sha256-mismatch', false));
});
