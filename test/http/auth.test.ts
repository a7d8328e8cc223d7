import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { z } from 'zod';
import { buildApp, type App } from '../../src/http/app.ts';
import { accessControl, authenticatedPrincipal, instanceAccess } from '../../src/http/auth.ts';
import { parseToken } from '../../src/infra/access-token.ts';
import type { CreatedAccount, CreatedInstance } from '../../src/infra/postgres/access-changes.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;
let store: PostgresAccessStore;
let app: App;
let acme: CreatedAccount;
let globex: CreatedAccount;
let acmeMain: CreatedInstance;
let acmeSpare: CreatedInstance;
let globexMain: CreatedInstance;
const logLines: string[] = [];

before(async () => {
  database = await createTestDatabase();
  store = new PostgresAccessStore({
    pool: database.pool,
    connect: () => database.connect(),
    logger: pino({ level: 'silent' }),
  });
  acme = await store.createAccount('acme');
  globex = await store.createAccount('globex');
  acmeMain = await store.createInstance('acme', 'acme-main');
  acmeSpare = await store.createInstance('acme', 'acme-spare');
  globexMain = await store.createInstance('globex', 'globex-main');

  const logSink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  app = buildApp({ logger: pino({ level: 'trace' }, logSink), readiness: [] });
  app.register(accessControl);
  const { authenticate, authorizeInstance } = instanceAccess(store);
  app.post(
    '/things/:instance',
    {
      onRequest: authenticate,
      preValidation: authorizeInstance,
      schema: {
        params: z.object({ instance: z.string() }),
        body: z.object({ enabled: z.boolean() }),
      },
    },
    async (request) => ({ principal: authenticatedPrincipal(request) }),
  );
  await app.ready();
});

after(async () => {
  await app?.close();
  await database?.drop();
});

function post(instance: string, token: string | undefined, payload = '{"enabled":true}') {
  return app.inject({
    method: 'POST',
    url: `/things/${instance}`,
    headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { token }) },
    payload,
  });
}

function assertFailure(
  response: Awaited<ReturnType<typeof post>>,
  status: number,
  message: string,
): void {
  assert.equal(response.statusCode, status);
  assert.deepEqual(response.json(), { success: false, error: { message } });
}

test('a request without a token is a 401', async () => {
  assertFailure(await post('acme-main', undefined), 401, 'Invalid token');
  assertFailure(await post('acme-main', ''), 401, 'Invalid token');
});

test('an unknown, malformed or revoked token is a 401', async () => {
  const forged = `stw_${acme.tokenId}_${'A'.repeat(43)}`;
  assertFailure(await post('acme-main', forged), 401, 'Invalid token');
  assertFailure(await post('acme-main', 'not-a-token'), 401, 'Invalid token');

  const revoked = await store.createInstance('acme', 'acme-revoked');
  await store.revokeToken(revoked.tokenId);
  assertFailure(await post('acme-revoked', revoked.instanceToken), 401, 'Invalid token');
});

test("an instance token is invalid for any other instance, even its own account's", async () => {
  assertFailure(await post('acme-spare', acmeMain.instanceToken), 401, 'Invalid token');
  assertFailure(await post('globex-main', acmeMain.instanceToken), 401, 'Invalid token');
  assertFailure(await post('no-such-instance', acmeMain.instanceToken), 401, 'Invalid token');
});

test("an account token cannot tell another account's instance from a missing one", async () => {
  assertFailure(await post('globex-main', acme.accountToken), 404, 'Instance not found');
  assertFailure(await post('no-such-instance', acme.accountToken), 404, 'Instance not found');
  assertFailure(await post('not%20a%20name', acme.accountToken), 404, 'Instance not found');
});

test('the token is checked before the body is parsed or validated', async () => {
  assertFailure(await post('acme-main', 'not-a-token', '{"enabled":'), 401, 'Invalid token');
  assertFailure(await post('acme-main', undefined, '{"enabled":"yes"}'), 401, 'Invalid token');
  assertFailure(await post('globex-main', acme.accountToken, '{}'), 404, 'Instance not found');
  assertFailure(
    await post('acme-main', acme.accountToken, '{"enabled":'),
    400,
    'Invalid request body',
  );
});

test('valid tokens reach the route with their principal', async () => {
  const byInstanceToken = await post('acme-main', acmeMain.instanceToken);
  assert.equal(byInstanceToken.statusCode, 200);
  assert.deepEqual(byInstanceToken.json(), {
    principal: {
      kind: 'instance',
      tokenId: acmeMain.tokenId,
      accountId: acme.account.id,
      instance: 'acme-main',
    },
  });

  const byAccountToken = await post('acme-spare', acme.accountToken);
  assert.equal(byAccountToken.statusCode, 200);
  assert.deepEqual(byAccountToken.json(), {
    principal: { kind: 'account', tokenId: acme.tokenId, accountId: acme.account.id },
  });

  assert.equal((await post('globex-main', globex.accountToken)).statusCode, 200);
  assert.equal((await post('globex-main', globexMain.instanceToken)).statusCode, 200);
  assert.equal((await post('acme-spare', acmeSpare.instanceToken)).statusCode, 200);
});

test('tokens never reach the log', () => {
  assert.ok(logLines.length > 0);
  const log = logLines.join('');
  for (const token of [acme.accountToken, acmeMain.instanceToken, globex.accountToken]) {
    assert.ok(!log.includes(parseToken(token)!.secret), 'a token secret was logged');
  }
});
