import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import { downloadMedia } from '../../../src/workers/media-upload/media-download.ts';
import { UploadFailedError } from '../../../src/workers/media-upload/upload-failure.ts';

let base: string;
const timers = new Set<NodeJS.Timeout>();
// /trickle: a byte every 100 ms, forever; /silent: never answers; /chunked/<n>: n bytes, length
// undeclared; /declared/<n>: says n bytes, sends none.
const server = createServer((request, response) => {
  const url = request.url ?? '';
  if (url === '/trickle') {
    response.writeHead(200);
    const timer = setInterval(() => response.write('x'), 100);
    timers.add(timer);
    return void response.on('close', () => clearInterval(timer));
  }
  if (url === '/silent') return;
  const chunked = /^\/chunked\/(\d+)$/.exec(url);
  if (chunked) {
    // Written before end(): end(bytes) alone would declare their length.
    response.write(Buffer.alloc(Number(chunked[1]), 'y'));
    return void response.end();
  }
  const declared = /^\/declared\/(\d+)$/.exec(url);
  if (declared)
    return void response.writeHead(200, { 'content-length': declared[1] }).flushHeaders();
  response.writeHead(404).end();
});
const agents = createGuardedAgents({ allowPrivate: true });
const connection = { ...agents, timeoutMs: 2_000 };
const limits = { timeoutMs: 600, maxBytes: 1_000 };
const signal = new AbortController().signal;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const timer of timers) clearInterval(timer);
  agents.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const failure = (code: string) => (error: unknown) =>
  error instanceof UploadFailedError && error.failure.code === code && !error.failure.transient;

test('a source that trickles bytes fails for good at the deadline, though no read is idle', async () => {
  const media = await downloadMedia(`${base}/trickle`, undefined, connection, limits, signal);
  await assert.rejects(text(media.body), failure('source-too-slow'));
  assert.ok(media.size() > 0 && media.size() < 20, `${media.size()} bytes before the deadline`);
});

test('a source that never answers fails for good at the deadline', async () => {
  await assert.rejects(
    downloadMedia(`${base}/silent`, undefined, connection, limits, signal),
    failure('source-too-slow'),
  );
});

test('a source that declares too many bytes is refused before reading any', async () => {
  await assert.rejects(
    downloadMedia(`${base}/declared/1001`, undefined, connection, limits, signal),
    failure('source-too-large'),
  );
});

test('a source that sends more than the maximum without saying so fails at the first byte over', async () => {
  const fits = await downloadMedia(`${base}/chunked/1000`, undefined, connection, limits, signal);
  assert.equal((await text(fits.body)).length, 1000);
  const over = await downloadMedia(`${base}/chunked/1001`, undefined, connection, limits, signal);
  await assert.rejects(text(over.body), failure('source-too-large'));
});

test('a download that finished in time is not failed by the deadline afterwards', async () => {
  const media = await downloadMedia(`${base}/chunked/10`, undefined, connection, limits, signal);
  assert.equal(await text(media.body), 'y'.repeat(10));
  await new Promise((resolve) => setTimeout(resolve, limits.timeoutMs + 100));
  assert.equal(media.body.errored, null);
});
