import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import type { ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import { BoundedHttpHandler } from '../../../src/infra/s3/bounded-http-handler.ts';
import { createS3Client } from '../../../src/infra/s3/s3-client.ts';
import { describeS3Failure } from '../../../src/infra/s3/s3-failure.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../support/scripted-endpoint.ts';

/**
 * An endpoint is whatever the customer names. These answers are hostile: an error body of 64 MiB
 * (the SDK would read all of it into memory, and more without a length), a body that comes a
 * byte every 200 ms, and a status line that does (never idle long enough for the socket timeout).
 */
let bytesSent = 0;
const agents = createGuardedAgents({ allowPrivate: true });
let scripted: ScriptedEndpoint;
let endpoint: string;

before(async () => {
  scripted = await startScriptedEndpoint();
  endpoint = scripted.url;
});
after(async () => {
  agents.destroy();
  await scripted.close();
});

const client = (timeoutMs = 5_000, exchangeWithinMs = 20_000) =>
  createS3Client(
    { region: 'us-east-1', endpoint, accessKeyId: 'AKIATEST', secretAccessKey: 'test-secret' },
    { ...agents, timeoutMs, exchangeWithinMs, maxAttempts: 1 },
  );
/** A PUT that must fail: how S3 failures are described, and after how long. */
async function failedPut(timeoutMs?: number, exchangeWithinMs?: number) {
  const started = Date.now();
  const error = await client(timeoutMs, exchangeWithinMs)
    .send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }))
    .then(
      () => assert.fail('expected a failure'),
      (failure: unknown) => failure,
    );
  return { failure: describeS3Failure(error), afterMs: Date.now() - started };
}

/** An answer whose body comes a space every `everyMs`, never ending. */
function drippingBody(everyMs: number) {
  return (_request: unknown, response: ServerResponse) => {
    response.writeHead(200, { 'content-type': 'application/xml' });
    const drip = setInterval(() => response.write(' '), everyMs);
    response.on('close', () => clearInterval(drip));
  };
}

/** Writes `chunks` of 64 KiB while the client keeps reading; stops when it hangs up. */
function sendLarge(response: ServerResponse, chunks: number) {
  const chunk = Buffer.alloc(64 * 1024, 'A');
  let left = chunks;
  const more = () => {
    while (left > 0 && !response.destroyed) {
      left--;
      bytesSent += chunk.length;
      if (!response.write(chunk)) return void response.once('drain', more);
    }
    if (!response.destroyed) response.end('</Message></Error>');
  };
  more();
}

for (const [name, headers] of [
  ['with its length', { 'content-length': String(1024 * 64 * 1024 + 40) }],
  ['without a length', {}],
] as const) {
  test(
    `an error answer of 64 MiB ${name} is cut off after 1 MiB, as a permanent failure`,
    { timeout: 20_000 },
    async () => {
      bytesSent = 0;
      scripted.answer = (_request, response) => {
        response.writeHead(400, { 'content-type': 'application/xml', ...headers });
        response.write('<Error><Code>X</Code><Message>');
        sendLarge(response, 1024);
      };
      const { failure } = await failedPut();
      assert.equal(failure.code, 'ERESPONSETOOLARGE');
      assert.equal(failure.transient, false);
      // The client hung up: the server got no further than its socket buffers allow.
      assert.ok(bytesSent < 16 * 1024 * 1024, `${bytesSent} bytes were sent`);
    },
  );
}

test(
  'an answer whose body trickles in is given up when the exchange is due, as a transient failure',
  { timeout: 20_000 },
  async () => {
    scripted.answer = drippingBody(200);
    const { failure, afterMs } = await failedPut(5_000, 1_500);
    assert.ok(afterMs < 10_000, `${afterMs} ms`);
    assert.equal(failure.code, 'ERESPONSETOOSLOW');
    assert.equal(failure.transient, true);
    assert.equal(failure.reason, "the endpoint's answer did not arrive in time (ERESPONSETOOSLOW)");
  },
);

test(
  'an answer whose status line trickles in is given up when the exchange is due',
  { timeout: 20_000 },
  async () => {
    scripted.answer = (_request, response) => {
      const socket = response.socket!;
      const line = Buffer.from(`HTTP/1.1 200 OK\r\nx-padding: ${'a'.repeat(10_000)}`);
      let sent = 0;
      const drip = setInterval(() => socket.write(line.subarray(sent, ++sent)), 200);
      socket.on('close', () => clearInterval(drip));
    };
    const { failure, afterMs } = await failedPut(1_000, 1_500);
    assert.ok(afterMs < 10_000, `${afterMs} ms`);
    assert.equal(failure.code, 'ERESPONSETOOSLOW');
  },
);

test(
  'an exchange that ends leaves no timer behind, and its connection open for the next',
  { timeout: 20_000 },
  async () => {
    scripted.answer = (_request, response) => void response.writeHead(200, { etag: '"e"' }).end();
    const timers = () =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const s3 = client(5_000, 300_000);
    await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
    const before = timers();
    let connections = 0;
    const counted = () => connections++;
    scripted.server.on('connection', counted);
    for (let n = 0; n < 50; n++)
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
    scripted.server.off('connection', counted);
    assert.ok(timers() - before < 5, `${timers() - before} more timers after 50 exchanges`);
    assert.equal(connections, 0, 'an answer read to its end leaves its connection for the next');
  },
);

test(
  "a server's ordinary answers pass the limits: its error code, and a bodiless HEAD",
  { timeout: 20_000 },
  async () => {
    scripted.answer = (request, response) => {
      if (request.method === 'HEAD') return void response.writeHead(200).end();
      response
        .writeHead(403, { 'content-type': 'application/xml' })
        .end('<Error><Code>AccessDenied</Code><Message>no</Message></Error>');
    };
    await client().send(new HeadBucketCommand({ Bucket: 'b' }));
    assert.equal((await failedPut()).failure.code, 'AccessDenied');
  },
);

test(
  "aborting the connection's abandonOn ends the exchanges in flight, not later ones; ended ones leave no listener",
  { timeout: 20_000 },
  async () => {
    const stopping = new AbortController();
    const s3 = createS3Client(
      { region: 'us-east-1', endpoint, accessKeyId: 'AKIATEST', secretAccessKey: 'test-secret' },
      { ...agents, timeoutMs: 15_000, exchangeWithinMs: 15_000, abandonOn: stopping.signal },
    );
    scripted.answer = (_request, response) => void response.writeHead(200, { etag: '"e"' }).end();
    for (let n = 0; n < 20; n++)
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
    assert.equal(getEventListeners(stopping.signal, 'abort').length, 0);

    scripted.answer = () => {}; // never answers
    const started = Date.now();
    const put = s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
    setTimeout(() => stopping.abort(new Error('stopping')), 200);
    await assert.rejects(put);
    assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);

    // Cleaning up after a stop (aborting a multipart upload) still reaches the server.
    scripted.answer = (_request, response) => void response.writeHead(200, { etag: '"e"' }).end();
    await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
  },
);

test(
  'an answer left unread when its exchange is due fails its reader, not the process',
  { timeout: 20_000 },
  async () => {
    scripted.answer = drippingBody(50);
    const handler = new BoundedHttpHandler(
      { httpAgent: agents.httpAgent, httpsAgent: agents.httpsAgent },
      { exchangeWithinMs: 300, answerMaxBytes: 1024 * 1024 },
    );
    const { port } = new URL(endpoint);
    const { response } = await handler.handle({
      method: 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: Number(port),
      path: '/b/k',
      query: {},
      headers: {},
    } as Parameters<BoundedHttpHandler['handle']>[0]);
    // Nobody reads the body while the deadline passes: its failure must wait for a reader.
    await new Promise((resolve) => setTimeout(resolve, 800));
    await assert.rejects(
      (async () => {
        for await (const chunk of response.body as AsyncIterable<Buffer>) void chunk;
      })(),
      { code: 'ERESPONSETOOSLOW' },
    );
  },
);
