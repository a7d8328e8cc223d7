import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildApp } from '../../src/http/app.ts';
import {
  failedAccessKey,
  rateLimitKey,
  requestRateLimit,
  type RequestRateLimitOptions,
} from '../../src/http/rate-limit.ts';
import { mintToken, parseToken } from '../../src/infra/access-token.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const apps: ReturnType<typeof buildApp>[] = [];

after(() => Promise.all(apps.map((app) => app.close())));

async function limitedApp(options: RequestRateLimitOptions) {
  const app = buildApp({ logger: pino({ level: 'silent' }), readiness: [] });
  apps.push(app);
  await app.register(requestRateLimit, options);
  app.get('/limited', { config: { rateLimit: true } }, async () => ({ success: true }));
  app.post('/also-limited', { config: { rateLimit: true } }, async () => ({ success: true }));
  app.get('/unlimited', async () => ({ success: true }));
  await app.ready();
  return app;
}

function call(
  app: ReturnType<typeof buildApp>,
  {
    token,
    ip = '192.0.2.1',
    url = '/limited',
    method = 'GET',
  }: { token?: string; ip?: string; url?: string; method?: 'GET' | 'HEAD' | 'POST' },
) {
  return app.inject({ method, url, remoteAddress: ip, headers: token ? { token } : {} });
}

async function assertLimited(response: Awaited<ReturnType<typeof call>>): Promise<void> {
  assert.equal(response.statusCode, 429);
  assert.deepEqual(response.json(), {
    success: false,
    error: { message: 'Rate limit exceeded. Try again later.' },
  });
  const retryAfter = Number(response.headers['retry-after']);
  assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
}

describe('in memory', () => {
  test('the request after the budget is a 429 in the contract shape, with Retry-After', async () => {
    const app = await limitedApp({ max: 3 });
    const { token } = mintToken();
    for (let i = 0; i < 3; i++) assert.equal((await call(app, { token })).statusCode, 200);
    await assertLimited(await call(app, { token }));
    assert.equal((await call(app, { token, url: '/unlimited' })).statusCode, 200);
  });

  test('every limited answer says the budget, what is left of it and when it starts again', async () => {
    const app = await limitedApp({ max: 3 });
    const { token } = mintToken();
    const left = [];
    for (let i = 0; i < 4; i++) {
      const { headers } = await call(app, { token });
      assert.equal(headers['x-ratelimit-limit'], '3');
      const reset = Number(headers['x-ratelimit-reset']);
      assert.ok(reset > 0 && reset <= 60, `X-RateLimit-Reset: ${reset}`);
      left.push(headers['x-ratelimit-remaining']);
    }
    assert.deepEqual(left, ['2', '1', '0', '0']);
    const unlimited = await call(app, { token, url: '/unlimited' });
    assert.equal(unlimited.headers['x-ratelimit-limit'], undefined);
  });

  test('a caller has one budget across every limited route, the HEAD of a GET included', async () => {
    const app = await limitedApp({ max: 3 });
    const { token } = mintToken();
    assert.equal((await call(app, { token })).statusCode, 200);
    assert.equal((await call(app, { token, method: 'HEAD' })).statusCode, 200);
    assert.equal(
      (await call(app, { token, method: 'POST', url: '/also-limited' })).statusCode,
      200,
    );
    await assertLimited(await call(app, { token, method: 'POST', url: '/also-limited' }));
    assert.equal((await call(app, { token, method: 'HEAD' })).statusCode, 429);
    await assertLimited(await call(app, { token }));
  });

  test('each token has its own budget, and so has each address without one', async () => {
    const app = await limitedApp({ max: 2 });
    const first = mintToken().token;
    const second = mintToken().token;
    for (let i = 0; i < 2; i++) await call(app, { token: first });
    await assertLimited(await call(app, { token: first }));
    assert.equal((await call(app, { token: second })).statusCode, 200);

    for (let i = 0; i < 2; i++) await call(app, { ip: '198.51.100.7' });
    await assertLimited(await call(app, { ip: '198.51.100.7' }));
    assert.equal((await call(app, { ip: '198.51.100.8' })).statusCode, 200);
    assert.equal((await call(app, { ip: '198.51.100.7', token: second })).statusCode, 200);
  });

  test('the budget comes back after the window', async () => {
    const app = await limitedApp({ max: 1, windowMs: 200 });
    const { token } = mintToken();
    await call(app, { token });
    assert.equal((await call(app, { token })).statusCode, 429);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal((await call(app, { token })).statusCode, 200);
  });

  test('the key reveals neither the token nor its secret', () => {
    const { token } = mintToken();
    const key = rateLimitKey({ headers: { token }, ip: '192.0.2.1' });
    assert.ok(!key.includes(token));
    assert.ok(!key.includes(parseToken(token)!.secret));
    assert.equal(key, rateLimitKey({ headers: { token }, ip: '203.0.113.9' }));
  });
});

test('failures are counted per IPv4 address, however it is spelt, and per IPv6 /64', () => {
  const key = (ip: string) => failedAccessKey({ ip });
  assert.equal(key('203.0.113.7'), 'failed-access:203.0.113.7');
  assert.equal(key('::ffff:203.0.113.7'), 'failed-access:203.0.113.7');
  assert.equal(key('::ffff:cb00:7107'), 'failed-access:203.0.113.7');
  assert.equal(key('2001:db8:1:2:a::1'), 'failed-access:2001:db8:1:2::/64');
  assert.equal(key('2001:db8:1:2:b::9'), key('2001:db8:1:2:a::1'));
  assert.notEqual(key('2001:db8:1:3::1'), key('2001:db8:1:2::1'));
});

describe('in Redis', () => {
  let redis: Redis;
  const keyPrefix = `stowage-test:${randomBytes(6).toString('hex')}:`;

  async function keysInRedis(): Promise<string[]> {
    return redis.keys(`${keyPrefix}*`);
  }

  before(async () => {
    redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    // A test that needs Redis and cannot reach it fails; it is not skipped.
    await redis.connect().catch((error: unknown) => {
      throw new Error(`Redis at ${redisUrl} is unreachable: ${String(error)}`);
    });
  });

  after(async () => {
    const keys = await keysInRedis();
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  test('processes sharing Redis share each token budget, across routes', async () => {
    const options = { max: 3, redis, redisKeyPrefix: keyPrefix };
    const one = await limitedApp(options);
    const two = await limitedApp(options);
    const { token } = mintToken();

    assert.equal((await call(one, { token })).statusCode, 200);
    assert.equal((await call(two, { token })).statusCode, 200);
    assert.equal(
      (await call(one, { token, method: 'POST', url: '/also-limited' })).statusCode,
      200,
    );
    await assertLimited(await call(two, { token }));
    await assertLimited(await call(two, { token, method: 'POST', url: '/also-limited' }));
    await assertLimited(await call(one, { token }));
    assert.equal((await call(two, { token: mintToken().token })).statusCode, 200);

    const keys = await keysInRedis();
    assert.ok(keys.length > 0);
    for (const key of keys) {
      assert.ok(!key.includes(token) && !key.includes(parseToken(token)!.secret), key);
    }
  });

  test('an unreachable Redis lets requests through rather than failing them', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    try {
      const app = await limitedApp({ max: 1, redis: unreachable, redisKeyPrefix: keyPrefix });
      const { token } = mintToken();
      assert.equal((await call(app, { token })).statusCode, 200);
      assert.equal((await call(app, { token })).statusCode, 200);
    } finally {
      unreachable.disconnect();
    }
  });
});
