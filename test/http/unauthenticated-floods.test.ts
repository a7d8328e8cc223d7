import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { hashSecret, mintToken } from '../../src/infra/access-token.ts';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

await initSealing();

/**
 * Requests without a valid token, over the real routes of the API as deployed, against a real
 * PostgreSQL: they must not cost token lookups, and an address that keeps failing is stopped
 * before any database work. Token lookups are counted at the driver, in this process.
 */
let tokenQueries = 0;
// eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the client as `this`
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string })?.text;
  if (text?.includes('FROM access_tokens')) tokenQueries++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

const limit = 5;
let api: TestApi;
let token: string;
let otherToken: string;

before(async () => {
  api = await startTestApi({
    STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
    STOWAGE_SEAL_SECRET_KEY: '',
    STOWAGE_RATE_LIMIT_PER_MINUTE: String(limit),
  });
  await api.access.createAccount('acme');
  ({ instanceToken: token } = await api.access.createInstance('acme', 'flooded'));
  ({ instanceToken: otherToken } = await api.access.createInstance('acme', 'neighbour'));
});
after(async () => {
  await api?.close();
  pg.Client.prototype.query = query;
});

const routes = [
  { method: 'POST', url: '/api/instance/s3/flooded', body: { enabled: false } },
  { method: 'GET', url: '/api/instance/s3/flooded' },
  { method: 'GET', url: '/api/instance/s3/flooded/history' },
  { method: 'POST', url: '/api/instance/s3/flooded/test', body: {} },
] as const satisfies readonly Route[];

let addresses = 0;
/** A client address of its own, so that budgets of different tests never meet. */
const freshAddress = () => `198.51.100.${++addresses}`;

interface Route {
  method: 'GET' | 'POST';
  url: string;
  body?: unknown;
}

function send(route: Route, from: string, headers: Record<string, string> = {}) {
  const { body } = route;
  return api.service.app.inject({
    method: route.method,
    url: route.url,
    remoteAddress: from,
    headers: body ? { ...headers, 'content-type': 'application/json' } : headers,
    ...(body ? { payload: JSON.stringify(body) } : {}),
  });
}

function assertLimited(response: Awaited<ReturnType<typeof send>>): void {
  assert.equal(response.statusCode, 429, response.body);
  assert.deepEqual(response.json(), {
    success: false,
    error: { message: 'Rate limit exceeded. Try again later.' },
  });
  const retryAfter = Number(response.headers['retry-after']);
  assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${response.headers['retry-after']}`);
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');

describe('made-up tokens', () => {
  test('cost no token lookup on any route, in either token format', async () => {
    const before = tokenQueries;
    for (const route of routes) {
      for (const invented of [
        `stw_${random(12)}_${random(32)}_${random(4)}`,
        `stw_${random(9)}_${random(32)}`,
        `stw_${random(12)}_${random(32)}`,
        'not-a-token',
      ]) {
        const response = await send(route, freshAddress(), { token: invented });
        assert.equal(response.statusCode, 401, `${route.method} ${route.url}: ${response.body}`);
      }
    }
    assert.equal(tokenQueries - before, 0);
  });

  test('one with a computed check costs one lookup, the first time only', async () => {
    const invented = mintToken().token;
    const before = tokenQueries;
    for (const route of routes) {
      assert.equal((await send(route, freshAddress(), { token: invented })).statusCode, 401);
    }
    assert.equal(tokenQueries - before, 1);
  });
});

describe('an address that fails to authenticate', () => {
  test('is limited on its own, before any database work, with Retry-After', async () => {
    const { instanceToken: known } = await api.access.createInstance('acme', 'known');
    const { instanceToken: stranger } = await api.access.createInstance('acme', 'stranger');
    const readKnown = { method: 'GET', url: '/api/instance/s3/known' } as const;
    // Verified once by this process, from elsewhere.
    assert.equal((await send(readKnown, freshAddress(), { token: known })).statusCode, 200);
    const attacker = freshAddress();
    for (let i = 0; i < limit; i++) {
      const response = await send(routes[i % routes.length]!, attacker, {
        token: mintToken().token,
      });
      assert.equal(response.statusCode, 401);
    }
    const before = tokenQueries;
    for (const route of routes) {
      assertLimited(await send(route, attacker, { token: mintToken().token }));
      assertLimited(await send(route, attacker));
      // A valid token this process has not verified yet is stopped too: only a lookup could
      // tell it from a guess.
      assertLimited(await send(route, attacker, { token: stranger }));
    }
    // One this process has verified is no stranger: whoever shares the address keeps working.
    const sharing = await send(readKnown, attacker, { token: known });
    assert.equal(sharing.statusCode, 200, sharing.body);
    assert.equal(tokenQueries - before, 0, 'a limited request looked a token up');

    const neighbour = await send(routes[1], freshAddress(), { token });
    assert.notEqual(neighbour.statusCode, 429, 'another address was limited too');
  });

  test('without any token is counted the same way', async () => {
    const anonymous = freshAddress();
    for (let i = 0; i < limit; i++) {
      assert.equal((await send(routes[1], anonymous)).statusCode, 401);
    }
    assertLimited(await send(routes[1], anonymous));
  });
});

test('a valid token keeps its own per-token budget, which failures elsewhere do not touch', async () => {
  const client = freshAddress();
  const readNeighbour = { method: 'GET', url: '/api/instance/s3/neighbour' } as const;
  for (let i = 0; i < limit; i++) {
    const response = await send(readNeighbour, client, { token: otherToken });
    assert.notEqual(response.statusCode, 429, response.body);
    assert.notEqual(response.statusCode, 401, response.body);
  }
  assertLimited(await send(readNeighbour, client, { token: otherToken }));
  // The same address with another token is not limited: it has no failures.
  assert.notEqual((await send(routes[1], client, { token })).statusCode, 429);
});

test('tokens issued before the check still work; made-up ones of their shape cost no lookup', async () => {
  const accountId = (
    await api.database.pool.query<{ id: string }>("SELECT id FROM accounts WHERE name = 'acme'")
  ).rows[0]!.id;
  const legacyId = random(9);
  const secret = random(32);
  await api.database.pool.query(
    `INSERT INTO access_tokens (id, kind, account_id, hash) VALUES ($1, 'account', $2, $3)`,
    [legacyId, accountId, hashSecret(secret)],
  );
  // A process started after the upgrade learns the legacy ids when it starts listening.
  const store = new PostgresAccessStore({
    pool: api.database.pool,
    connect: api.database.connect,
    logger: pino({ level: 'silent' }),
  });
  try {
    await store.startListening();
    assert.equal((await store.verifyToken(`stw_${legacyId}_${secret}`))?.accountId, accountId);
    const before = tokenQueries;
    for (let i = 0; i < 20; i++) {
      assert.equal(await store.verifyToken(`stw_${random(9)}_${random(32)}`), null);
    }
    assert.equal(tokenQueries - before, 0);
    // A wrong secret for the real id is still refused.
    assert.equal(await store.verifyToken(`stw_${legacyId}_${random(32)}`), null);
  } finally {
    await store.close();
  }
});

test('a wrong secret for a real id, with a correct check, is refused', async () => {
  const { tokenId } = await api.access.createAccount('wrong-secret');
  const secret = random(32);
  const check = createHash('sha256')
    .update(`stw_${tokenId}_${secret}`)
    .digest('base64url')
    .slice(0, 6);
  const response = await send(routes[1], freshAddress(), {
    token: `stw_${tokenId}_${secret}_${check}`,
  });
  assert.equal(response.statusCode, 401);
});
