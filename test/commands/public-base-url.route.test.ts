import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { freshRead } from '../support/fresh-read.ts';

await initSealing();

let api: TestApi;
let token: string;

before(async () => {
  api = await startTestApi(
    {
      // As deployed, the API holds only the public half of the master key ('' unsets the secret).
      STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
      STOWAGE_SEAL_SECRET_KEY: '',
    },
    ['api', 'projector'],
  );
  ({ accountToken: token } = await api.access.createAccount('acme'));
});
after(() => api?.close());

const aws = {
  enabled: true,
  region: 'us-east-1',
  bucket: 'ryzeapi-media',
  accessKey: 'AKIA...',
  secretKey: 'secret-redacted',
  endpoint: '',
  pathPrefix: 'media/myinstance/',
};

async function newInstance(): Promise<string> {
  const instance = `links-${randomUUID().slice(0, 8)}`;
  await api.access.createInstance('acme', instance);
  return instance;
}

function post(instance: string, body: unknown) {
  return api.service.app.inject({
    method: 'POST',
    url: `/api/instance/s3/${instance}`,
    headers: { 'content-type': 'application/json', token },
    payload: JSON.stringify(body),
  });
}

async function get(path: string) {
  const response = await freshRead(
    () => api.service.app.inject({ method: 'GET', url: path, headers: { token } }),
    (answer) => answer.headers['x-stowage-stale'] !== undefined,
  );
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['x-stowage-stale'], undefined);
  return response.json();
}

const eventsOf = async (instance: string) =>
  (
    await new PostgresEventStore(api.database.pool, api.database.connect).readStream(
      instanceStream(instance),
    )
  ).map((event) => event.data);

describe('publicBaseUrl in POST /api/instance/s3/:instance', () => {
  test('is normalised, answered, recorded in the event and read back by GET', async () => {
    const instance = await newInstance();
    const response = await post(instance, {
      ...aws,
      publicBaseUrl: 'https://CDN.Example.com/media',
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json().s3, {
      enabled: true,
      region: 'us-east-1',
      bucket: 'ryzeapi-media',
      accessKey: 'AKIA...',
      endpoint: '',
      pathPrefix: 'media/myinstance/',
      publicBaseUrl: 'https://cdn.example.com/media/',
    });
    const [event] = await eventsOf(instance);
    assert.equal(event!.publicBaseUrl, 'https://cdn.example.com/media/');
    const read = await get(`/api/instance/s3/${instance}`);
    assert.equal(read.s3.publicBaseUrl, 'https://cdn.example.com/media/');

    const again = await post(instance, { ...aws, publicBaseUrl: 'https://cdn.example.com/media/' });
    assert.deepEqual(again.json(), response.json(), 'the same configuration: the same answer');
    assert.equal((await eventsOf(instance)).length, 1, 'and no new event');
  });

  test('a request without it answers, records and reads exactly as before it existed', async () => {
    const instance = await newInstance();
    const response = await post(instance, aws);
    assert.deepEqual(response.json(), {
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
    const [event] = await eventsOf(instance);
    assert.deepEqual(Object.keys(event!).sort(), [
      'accessKey',
      'actor',
      'at',
      'bucket',
      'endpoint',
      'instance',
      'pathPrefix',
      'region',
      'schemaVersion',
      'secret',
    ]);
    assert.equal('publicBaseUrl' in (await get(`/api/instance/s3/${instance}`)).s3, false);
    const { secretKey: _secretKey, ...sameWithoutSecret } = aws;
    assert.equal(
      (await post(instance, { ...sameWithoutSecret, publicBaseUrl: '' })).statusCode,
      200,
    );
    assert.equal(
      (await eventsOf(instance)).length,
      1,
      'an empty publicBaseUrl is no publicBaseUrl',
    );
  });

  test('each enabling request replaces it, leaving it out clears it, a disable clears it; the history shows old → new', async () => {
    const instance = await newInstance();
    const { secretKey: _secretKey, ...keepSecret } = aws;
    await post(instance, { ...aws, publicBaseUrl: 'https://a.example.com/' });
    await post(instance, { ...keepSecret, publicBaseUrl: 'https://b.example.com/x/' });
    const cleared = await post(instance, keepSecret);
    assert.equal('publicBaseUrl' in cleared.json().s3, false);
    await post(instance, { ...keepSecret, publicBaseUrl: 'https://c.example.com/' });
    const off = await post(instance, { enabled: false });
    assert.equal('publicBaseUrl' in off.json().s3, false);
    assert.equal('publicBaseUrl' in (await get(`/api/instance/s3/${instance}`)).s3, false);

    const { history } = await get(`/api/instance/s3/${instance}/history`);
    assert.deepEqual(
      history.map((entry: { changes: { publicBaseUrl?: unknown } }) => entry.changes.publicBaseUrl),
      [
        { from: '', to: 'https://a.example.com/' },
        { from: 'https://a.example.com/', to: 'https://b.example.com/x/' },
        { from: 'https://b.example.com/x/', to: '' },
        { from: '', to: 'https://c.example.com/' },
        { from: 'https://c.example.com/', to: '' },
      ],
    );
  });

  test('anything but a plain https URL is refused with details naming the field, changing nothing', async () => {
    const instance = await newInstance();
    await post(instance, aws);
    for (const [publicBaseUrl, why] of [
      ['http://cdn.example.com/', /https URL/],
      ['cdn.example.com', /https URL/],
      ['https://user:secret@cdn.example.com/', /credentials/],
      ['https://cdn.example.com/?token=1', /query or fragment/],
      ['https://cdn.example.com/#x', /query or fragment/],
      [`https://cdn.example.com/${'x'.repeat(2048)}`, /2048/],
      [42, /string/],
    ] as const) {
      const response = await post(instance, { ...aws, publicBaseUrl });
      assert.equal(response.statusCode, 400, String(publicBaseUrl));
      const body = response.json();
      assert.equal(body.success, false);
      assert.equal(body.error.message, 'Invalid request body');
      assert.deepEqual(
        body.error.details.map((problem: { field: string }) => problem.field),
        ['publicBaseUrl'],
      );
      assert.match(body.error.details[0].message, why);
      assert.doesNotMatch(response.body, /secret@/, 'the credentials are not echoed');
    }
    assert.equal((await eventsOf(instance)).length, 1);
  });
});
