import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi } from '../support/api.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

let api: TestApi;
before(async () => {
  api = await startTestApi();
});
after(() => api?.close());

test('the OpenAPI document describes the POST route from its zod schemas, with the seed examples', async () => {
  const response = await api.service.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  const document = response.json();
  const post = document.paths['/api/instance/s3/{instance}'].post;
  const media = post.requestBody.content['application/json'];
  const body = media.schema;
  assert.deepEqual(body.required, ['enabled']);
  assert.deepEqual(Object.keys(body.properties).sort(), [
    'accessKey',
    'bucket',
    'enabled',
    'endpoint',
    'pathPrefix',
    'publicBaseUrl',
    'region',
    'secretKey',
  ]);
  assert.equal(body.additionalProperties, false);
  assert.match(body.properties.publicBaseUrl.description, /https URL/);
  const answered = post.responses['200'].content['application/json'].schema.properties.s3;
  assert.equal(answered.properties.publicBaseUrl.type, 'string');
  assert.ok(!answered.required.includes('publicBaseUrl'), 'absent when not set');
  const examples = Object.values(media.examples).map(
    (example) => (example as { value: unknown }).value,
  );
  assert.equal(examples.length, 3);
  assert.deepEqual(examples[2], { enabled: false });
  assert.equal(
    (examples[1] as { endpoint: string }).endpoint,
    'https://minio.internal.company.com',
  );
  for (const status of ['200', '400', '401', '404', '429', '500']) {
    assert.ok(post.responses[status], `documents ${status}`);
  }
  assert.ok(document.paths['/api/instance/s3/{instance}'].get);
  assert.ok(document.paths['/api/instance/s3/{instance}/history'].get);
});

test('/docs serves the browsable documentation', async () => {
  const response = await api.service.app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /text\/html/);
});
