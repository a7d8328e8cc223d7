import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/api.ts';
import { freshRead } from '../support/fresh-read.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

// The seed's three curl examples, sent over a real listening server with the real Postgres
// event store and projection; the answers must be the seed's.
let api: TestApi;
let token: string;
before(async () => {
  api = await startTestApi({}, ['api', 'projector']);
  await api.access.createAccount('ryze');
  ({ instanceToken: token } = await api.access.createInstance('ryze', 'my-instance'));
});
after(() => api?.close());

async function curl(body: string) {
  const response = await fetch(`${api.service.url}/api/instance/s3/my-instance`, {
    method: 'POST',
    headers: { token, 'Content-Type': 'application/json' },
    body,
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as { s3: unknown },
  };
}

test('AWS S3, then self-hosted MinIO, then disable — as the seed documents them', async () => {
  const aws = await curl(`{
    "enabled": true,
    "region": "us-east-1",
    "bucket": "ryzeapi-media",
    "accessKey": "AKIA...",
    "secretKey": "secret-redacted",
    "endpoint": "",
    "pathPrefix": "media/myinstance/"
  }`);
  assert.equal(aws.status, 200);
  assert.deepEqual(aws.body, {
    success: true,
    message: 'S3 configuration updated',
    s3: {
      enabled: true,
      region: 'us-east-1',
      bucket: 'ryzeapi-media',
      accessKey: 'AKIA...',
      endpoint: '',
      pathPrefix: 'media/myinstance/',
    },
  });

  const minio = await curl(`{
    "enabled": true,
    "region": "us-east-1",
    "bucket": "whatsapp",
    "endpoint": "https://minio.internal.company.com",
    "accessKey": "minioadmin",
    "secretKey": "minioadmin",
    "pathPrefix": "ryzeapi/"
  }`);
  assert.equal(minio.status, 200);
  assert.deepEqual(minio.body.s3, {
    enabled: true,
    region: 'us-east-1',
    bucket: 'whatsapp',
    accessKey: 'minioadmin',
    endpoint: 'https://minio.internal.company.com',
    pathPrefix: 'ryzeapi/',
  });

  const off = await curl('{"enabled":false}');
  assert.equal(off.status, 200);
  assert.deepEqual(off.body, {
    success: true,
    message: 'S3 configuration updated',
    s3: { enabled: false, region: '', bucket: '', accessKey: '', endpoint: '', pathPrefix: '' },
  });

  // Reading one's own write through the projection.
  const position = off.headers.get('x-stowage-position');
  assert.ok(position);
  const read = await freshRead(
    () =>
      fetch(`${api.service.url}/api/instance/s3/my-instance?minPosition=${position}`, {
        headers: { token },
      }),
    (answer) => answer.headers.get('x-stowage-stale') !== null,
  );
  assert.equal(read.status, 200);
  assert.equal(read.headers.get('x-stowage-stale'), null);
  const view = (await read.json()) as { s3: { enabled: boolean; revision: number } };
  assert.equal(view.s3.enabled, false);
  assert.equal(view.s3.revision, 2);
});
