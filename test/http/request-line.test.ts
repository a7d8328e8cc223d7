import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { buildApp, type App } from '../../src/http/app.ts';
import { createLogger } from '../../src/infra/logger.ts';

/** Each request ends with one line of fixed fields: the route's pattern, never its URL. */
let app: App;
const lines: string[] = [];

before(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  app = buildApp({ logger: createLogger('info', sink), readiness: [] });
  app.get('/things/:name', async () => ({ success: true }));
  app.get('/quiet', { logLevel: 'warn' }, async () => ({ success: true }));
  await app.ready();
});
after(() => app.close());

const requestLines = () =>
  lines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request completed');

test('a request ends with one line: its id, method, route pattern, status and time', async () => {
  lines.length = 0;
  const response = await app.inject({
    method: 'GET',
    url: '/things/private-name?token=stw_secretish',
    headers: { 'x-request-id': 'req-1', token: 'stw_presented' },
  });
  assert.equal(response.statusCode, 200);
  const [line, ...more] = requestLines();
  assert.deepEqual(more, []);
  const { time, responseTimeMs, ...fields } = line;
  assert.equal(typeof time, 'number');
  assert.ok(typeof responseTimeMs === 'number' && responseTimeMs >= 0);
  assert.deepEqual(fields, {
    level: 30,
    service: 'stowage',
    reqId: 'req-1',
    method: 'GET',
    route: '/things/:name',
    statusCode: 200,
    msg: 'request completed',
  });
  const raw = lines.join('\n');
  for (const unsaid of ['private-name', 'stw_secretish', 'stw_presented']) {
    assert.ok(!raw.includes(unsaid), `${unsaid} is in the log`);
  }
});

test('a failed request ends with its status, and an unknown route with none', async () => {
  lines.length = 0;
  await app.inject({ method: 'GET', url: '/nowhere/at/all' });
  const [line] = requestLines();
  assert.equal(line.statusCode, 404);
  assert.equal(line.route, undefined);
  assert.ok(!lines.join('\n').includes('/nowhere'), 'the URL is in the log');
});

test('a route that logs only warnings writes no request line', async () => {
  lines.length = 0;
  assert.equal((await app.inject({ method: 'GET', url: '/quiet' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
  assert.deepEqual(requestLines(), []);
});
