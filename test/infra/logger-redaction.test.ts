import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { capturedLog } from '../support/captured-log.ts';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { startService, type RunningService } from '../../src/serve.ts';
import { loadSettings } from '../../src/settings.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

await initSealing();

/** The API as deployed, logging at debug level into `lines`. */
let database: TestDatabase;
let service: RunningService;
let access: PostgresAccessStore;
const { logger, lines } = capturedLog('debug');

before(async () => {
  database = await createTestDatabase();
  const settings = loadSettings({
    DATABASE_URL: database.url,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
  });
  service = await startService(settings, new Set(['api']), logger);
  access = new PostgresAccessStore({ pool: database.pool, connect: database.connect, logger });
});

after(async () => {
  await service?.stop();
  await access?.close();
  await database?.drop();
});

test('a request logged with its headers and body at debug level shows neither token nor secret', async () => {
  await access.createAccount('acme');
  const { instanceToken } = await access.createInstance('acme', 'logged');
  const secretKey = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
  const body = {
    enabled: true,
    region: 'us-east-1',
    bucket: 'ryzeapi-media',
    accessKey: 'AKIAEXAMPLE',
    secretKey,
    endpoint: '',
    pathPrefix: 'media/',
  };
  const headers = {
    token: instanceToken,
    authorization: `Bearer ${instanceToken}`,
    'content-type': 'application/json',
  };
  for (const url of ['/api/instance/s3/logged', '/api/instance/s3/logged/test']) {
    const response = await service.app.inject({
      method: 'POST',
      url,
      headers,
      payload: JSON.stringify(body),
    });
    assert.notEqual(response.statusCode, 401, response.body);
    // What a developer chasing a bug would add: the request, whole, through the app's logger.
    service.app.log.debug({ request: { method: 'POST', url, headers, body } }, 'request received');
  }
  const output = lines.join('');
  assert.match(output, /"msg":"request received"/, 'the requests were logged at debug level');
  assert.match(output, /"accessKey":"AKIAEXAMPLE"/, 'the body was logged');
  assert.ok(!output.includes(instanceToken), 'the token was logged');
  assert.ok(!output.includes(secretKey), 'the secret was logged');
});

test('fields named like secrets are redacted at any depth, in bindings and in errors', () => {
  const before = lines.length;
  const secrets = ['s3cret-one', 's3cret-two', 's3cret-three', 's3cret-four', 's3cret-five'];
  const child = logger.child({ token: secrets[0] });
  child.debug(
    {
      client: { config: [{ credentials: { secretAccessKey: secrets[1] } }] },
      deep: { a: { b: { c: { d: { e: { SecretKey: secrets[2] } } } } } },
      headers: { Authorization: secrets[3] },
      err: Object.assign(new Error('failed'), { request: { token: secrets[4] } }),
    },
    'nested',
  );
  const output = lines.slice(before).join('');
  assert.match(output, /"msg":"nested"/);
  assert.match(output, /\[redacted\]/);
  for (const secret of secrets) assert.ok(!output.includes(secret), `${secret} was logged`);
});
