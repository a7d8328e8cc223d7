import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initSealing } from '../../src/infra/sealing.ts';
import { startTestApi } from '../support/api.ts';
import { freePort } from '../support/stowage-process.ts';

await initSealing();

// Runs without EventStoreDB: a refused connection is the failure every deployment meets first
// (a wrong host, a server still starting), and the client's errors are what gets logged.
test('EventStoreDB refusing the connection: a 500 in the contract shape, the cause logged without the password', async () => {
  const password = `esdb-password-${process.pid}`;
  const port = await freePort();
  const api = await startTestApi({
    EVENTSTORE_URL: `esdb://admin:${password}@127.0.0.1:${port}?tls=false`,
  });
  try {
    const { accountToken } = await api.access.createAccount('esdb-refused');
    await api.access.createInstance('esdb-refused', 'esdb-refused-1');

    const posted = await api.service.app.inject({
      method: 'POST',
      url: '/api/instance/s3/esdb-refused-1',
      headers: { token: accountToken, 'content-type': 'application/json' },
      payload: JSON.stringify({
        enabled: true,
        region: 'us-east-1',
        bucket: 'media',
        accessKey: 'AKIAEXAMPLE',
        secretKey: 'a-secret-key-of-the-instance',
      }),
    });
    const ready = await api.service.app.inject({ method: 'GET', url: '/health/ready' });

    assert.equal(posted.statusCode, 500);
    assert.deepEqual(posted.json(), {
      success: false,
      error: { message: 'Failed to update S3 configuration' },
    });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().checks.eventStore, 'unavailable');
    const logs = api.logs.join('');
    assert.match(logs, /ECONNREFUSED/, 'the cause is logged');
    for (const text of [logs, posted.body, ready.body]) {
      assert.equal(text.includes(password), false, 'the password leaked');
      assert.equal(text.includes('a-secret-key-of-the-instance'), false, 'the secret leaked');
    }
  } finally {
    await api.close();
  }
});
