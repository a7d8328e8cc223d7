import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { hostileHosts, withPort } from '../infra/network/hostile-hosts.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

await initSealing();

/**
 * Endpoints that lead into our own network, in every notation, through the real API as deployed
 * (private endpoints not allowed, no master secret key): the POST refuses them and stores
 * nothing, and `…/test` refuses them without a single connection to the listener they point at.
 */
let api: TestApi;
let token: string;
let port: number;
let connections = 0;
const listeners: Server[] = [];

function listen(host: string, wanted: number): Promise<Server | undefined> {
  const server = createServer((socket) => socket.destroy());
  server.on('connection', () => connections++);
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined)); // no IPv6 here: 127.0.0.1 alone
    server.listen(wanted, host, () => resolve(server));
  });
}

before(async () => {
  const first = await listen('127.0.0.1', 0);
  port = (first!.address() as AddressInfo).port;
  listeners.push(first!);
  const v6 = await listen('::1', port);
  if (v6) listeners.push(v6);
  api = await startTestApi({
    STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
    STOWAGE_SEAL_SECRET_KEY: '',
    STOWAGE_RATE_LIMIT_PER_MINUTE: '10000',
  });
  await api.access.createAccount('acme');
  ({ instanceToken: token } = await api.access.createInstance('acme', 'probed'));
});

after(async () => {
  await api?.close();
  await Promise.all(listeners.map((server) => new Promise((resolve) => server.close(resolve))));
});

const settings = (endpoint: string) => ({
  region: 'us-east-1',
  bucket: 'ryzeapi-media',
  accessKey: 'AKIAEXAMPLE',
  secretKey: 'example-secret-key',
  endpoint,
  pathPrefix: 'media/',
});

function post(url: string, body: unknown) {
  return api.service.app.inject({
    method: 'POST',
    url,
    headers: { token, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

function assertRefusedEndpoint(response: Awaited<ReturnType<typeof post>>, endpoint: string) {
  assert.equal(response.statusCode, 400, `${endpoint}: ${response.body}`);
  const body = response.json();
  assert.equal(body.success, false);
  assert.equal(body.error.message, 'Invalid request body');
  assert.deepEqual(
    body.error.details.map((detail: { field: string }) => detail.field),
    ['endpoint'],
    endpoint,
  );
}

describe('POST /api/instance/s3/:instance refuses, and stores nothing for', () => {
  for (const [name, url] of hostileHosts) {
    test(name, async () => {
      const endpoint = withPort(url, port);
      assertRefusedEndpoint(
        await post('/api/instance/s3/probed', { enabled: true, ...settings(endpoint) }),
        endpoint,
      );
    });
  }

  test('not one event was appended', async () => {
    const { rows } = await api.database.pool.query<{ count: string }>(
      'SELECT count(*) FROM events',
    );
    assert.equal(rows[0]?.count, '0');
  });
});

describe('POST …/test with supplied settings refuses, without connecting, for', () => {
  for (const [name, url] of hostileHosts) {
    test(name, async () => {
      const endpoint = withPort(url, port);
      assertRefusedEndpoint(
        await post('/api/instance/s3/probed/test', settings(endpoint)),
        endpoint,
      );
    });
  }

  test('the listener never saw a connection', () => assert.equal(connections, 0));
});

test('the same request with a public name passes the check (it is not refused wholesale)', async () => {
  const response = await post(
    '/api/instance/s3/probed/test',
    settings('http://s3.stowage-test.invalid'),
  );
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.json().ok, false);
});
