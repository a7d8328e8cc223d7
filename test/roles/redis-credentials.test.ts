import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initSealing } from '../../src/infra/sealing.ts';
import { startTestApi } from '../support/api.ts';

await initSealing();

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

test('Redis refusing the credentials is logged once, without the password', async () => {
  const password = `wrong-password-${process.pid}`;
  const refused = new URL(redisUrl);
  refused.username = 'stowage-test';
  refused.password = password;
  const api = await startTestApi({ REDIS_URL: refused.toString() });
  try {
    // The client tries again every few hundred milliseconds; each try is refused.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const lines = api.logs.join('');
    assert.ok(lines.includes('WRONGPASS'), 'Redis answered, and refused');
    assert.equal(lines.includes(password), false, 'the password is in the log');
    assert.equal(lines.match(/redis unavailable/g)?.length, 1);
  } finally {
    await api.close();
  }
});
