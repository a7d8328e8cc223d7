import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { buildApp, type App } from '../../src/http/app.ts';
import { ErrorBody } from '../../src/http/error-handler.ts';

/**
 * What Node's HTTP parser refuses never reaches fastify's routes or error handler; it is still
 * answered in the contract's shape. Raw sockets, since a well-behaved client cannot send these.
 */
let app: App;
let port: number;

before(async () => {
  app = buildApp({ logger: pino({ level: 'silent' }), readiness: [], requestTimeoutMs: 500 });
  app.post('/echo', async (request) => ({ success: true, got: request.body }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});
after(() => app.close());

/** Writes `raw` and reads until the server closes the connection. */
function exchange(raw: string): Promise<{ status: number; body: unknown; afterMs: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      resolve({
        status: Number(head.split(' ')[1]),
        body: body ? JSON.parse(body) : undefined,
        afterMs: Date.now() - started,
      });
    });
  });
}

const contractError = (message: string) => ({ success: false, error: { message } });

test('a header section over the limit is a 431 in the contract shape', async () => {
  const answer = await exchange(
    `GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  );
  assert.equal(answer.status, 431);
  assert.deepEqual(answer.body, contractError('Request headers too large'));
  ErrorBody.parse(answer.body);
});

for (const [what, raw] of [
  ['both a length and chunked', 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc'],
  ['two different lengths', 'Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ['a control character in a header', 'token: a\u0001b\r\nContent-Length: 2\r\n\r\n{}'],
] as const) {
  test(`a request with ${what} is a 400 in the contract shape`, async () => {
    const answer = await exchange(
      `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${raw}`,
    );
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.body, contractError('Malformed HTTP request'));
  });
}

test('a body that never finishes arriving is a 408 in the contract shape, within the timeout and a check', async () => {
  const answer = await exchange(
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"enab',
  );
  assert.equal(answer.status, 408);
  assert.deepEqual(answer.body, contractError('Request not received in time'));
  assert.ok(answer.afterMs < 10_000, `answered after ${answer.afterMs} ms`);
});

test('a well-formed request on the same server is answered as usual', async () => {
  const answer = await exchange(
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
  );
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body, { success: true, got: {} });
});
