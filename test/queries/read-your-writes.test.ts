import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

await initSealing();

let api: TestApi;
let token: string;

before(async () => {
  api = await startTestApi(
    {
      // As deployed, the API holds only the public half of the master key ('' unsets the secret).
      STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
      STOWAGE_SEAL_SECRET_KEY: '',
      STOWAGE_RATE_LIMIT_PER_MINUTE: '100000',
    },
    ['api', 'projector'],
  );
  ({ accountToken: token } = await api.access.createAccount('acme'));
  await api.access.createInstance('acme', 'my-instance');
});
after(() => api?.close());

test('100 rounds of POST then an immediate GET through one process: every GET shows the bucket just written', async () => {
  const { app } = api.service;
  for (let round = 0; round < 100; round++) {
    const bucket = `bucket-round-${round}`;
    const posted = await app.inject({
      method: 'POST',
      url: '/api/instance/s3/my-instance',
      headers: { token, 'content-type': 'application/json' },
      payload: {
        enabled: true,
        region: 'us-east-1',
        bucket,
        accessKey: 'AKIAEXAMPLE',
        ...(round === 0 ? { secretKey: 'secret-redacted' } : {}),
      },
    });
    assert.equal(posted.statusCode, 200, posted.body);

    const read = await app.inject({
      method: 'GET',
      url: '/api/instance/s3/my-instance',
      headers: { token },
    });

    assert.equal(read.statusCode, 200);
    assert.equal(read.headers['x-stowage-stale'], undefined, `round ${round} came stale`);
    assert.equal(read.json().s3.bucket, bucket, `round ${round}`);
    assert.equal(read.headers.etag, `"${round}"`);
  }
});
