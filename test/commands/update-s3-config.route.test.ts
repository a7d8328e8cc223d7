import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

let api: TestApi;
let accountToken: string;
let instanceToken: string;
let otherAccountToken: string;

before(async () => {
  api = await startTestApi();
  ({ accountToken } = await api.access.createAccount('acme'));
  ({ instanceToken } = await api.access.createInstance('acme', 'my-instance'));
  await api.access.createInstance('acme', 'second');
  ({ accountToken: otherAccountToken } = await api.access.createAccount('globex'));
  await api.access.createInstance('globex', 'foreign');
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

function post(
  instance: string,
  body: unknown,
  headers: Record<string, string> = { token: instanceToken },
) {
  return api.service.app.inject({
    method: 'POST',
    url: `/api/instance/s3/${instance}`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A body with a secret outside ASCII, encoded as `encoding` whatever the header says. */
function postBytes(contentType: string, body: object, encoding: BufferEncoding) {
  return api.service.app.inject({
    method: 'POST',
    url: '/api/instance/s3/my-instance',
    headers: { 'content-type': contentType, token: instanceToken },
    payload: Buffer.from(JSON.stringify({ ...body, secretKey: 'sécrét-clé' }), encoding),
  });
}

const eventCount = async () =>
  Number((await api.database.pool.query('SELECT count(*) FROM events')).rows[0].count);

function assertFailure(
  response: Awaited<ReturnType<typeof post>>,
  status: number,
  message: string,
) {
  assert.equal(response.statusCode, status, response.body);
  const body = response.json();
  assert.equal(body.success, false);
  assert.equal(body.error.message, message);
  return body.error as { message: string; details?: { field: string; message: string }[] };
}

describe('POST /api/instance/s3/:instance', () => {
  test('the seed AWS example answers as the seed shows, without the secret', async () => {
    const response = await post('my-instance', aws);
    assert.equal(response.statusCode, 200);
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
    assert.equal(response.headers.etag, '"0"');
    assert.match(String(response.headers['x-stowage-position']), /^\d+-\d+$/);
    assert.ok(response.headers['x-request-id']);
  });

  test('repeating a request answers the same and appends nothing', async () => {
    const before = await eventCount();
    const first = await post('my-instance', aws);
    const again = await post('my-instance', aws);
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json(), first.json());
    assert.equal(again.headers.etag, first.headers.etag);
    assert.equal(await eventCount(), before);
  });

  test('an account token reaches the instances of its account', async () => {
    const response = await post('second', { ...aws, pathPrefix: '/a//b' }, { token: accountToken });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().s3.pathPrefix, 'a/b/');
  });

  test('while enabled the secret may be left out to keep the stored one', async () => {
    const { secretKey: _secretKey, ...withoutSecret } = aws;
    const response = await post('my-instance', { ...withoutSecret, pathPrefix: 'moved/' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().s3.pathPrefix, 'moved/');
  });

  test('disabling answers enabled:false with empty fields; re-enabling needs the secret again', async () => {
    const off = await post('my-instance', { enabled: false });
    assert.equal(off.statusCode, 200);
    assert.deepEqual(off.json().s3, {
      enabled: false,
      region: '',
      bucket: '',
      accessKey: '',
      endpoint: '',
      pathPrefix: '',
    });
    const { secretKey: _secretKey, ...withoutSecret } = aws;
    const details = assertFailure(
      await post('my-instance', withoutSecret),
      400,
      'Invalid request body',
    );
    assert.deepEqual(
      details.details?.map((problem) => problem.field),
      ['secretKey'],
    );

    const before = await eventCount();
    assert.equal((await post('my-instance', { enabled: false })).statusCode, 200);
    assert.equal(await eventCount(), before, 'disabling again appends nothing');
  });

  test('If-Match: a stale revision is refused with 412, the current one goes through', async () => {
    const current = await post('second', aws, { token: accountToken });
    const revision = Number(JSON.parse(String(current.headers.etag)));
    assertFailure(
      await post(
        'second',
        { enabled: false },
        { token: accountToken, 'if-match': `"${revision - 1}"` },
      ),
      412,
      `S3 configuration is at revision ${revision}, not ${revision - 1}`,
    );
    const ok = await post(
      'second',
      { enabled: false },
      { token: accountToken, 'if-match': `"${revision}"` },
    );
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers.etag, `"${revision + 1}"`);
  });
});

describe('POST errors, in the contract shape, changing nothing', () => {
  const rows: [string, () => ReturnType<typeof post>, number, string][] = [
    ['malformed JSON', () => post('my-instance', '{"enabled": tru'), 400, 'Invalid request body'],
    ['an empty body', () => post('my-instance', ''), 400, 'Invalid request body'],
    ['enabled missing', () => post('my-instance', { bucket: 'abc' }), 400, 'Invalid request body'],
    [
      'enabled of the wrong type',
      () => post('my-instance', { enabled: 'yes' }),
      400,
      'Invalid request body',
    ],
    [
      'required fields missing',
      () => post('my-instance', { enabled: true }),
      400,
      'Invalid request body',
    ],
    [
      'an unknown field',
      () => post('my-instance', { ...aws, acl: 'public' }),
      400,
      'Invalid request body',
    ],
    [
      'a bad bucket name',
      () => post('my-instance', { ...aws, bucket: 'Bad_Bucket' }),
      400,
      'Invalid request body',
    ],
    [
      'a metadata endpoint',
      () => post('my-instance', { ...aws, endpoint: 'http://169.254.169.254' }),
      400,
      'Invalid request body',
    ],
    [
      'an endpoint with credentials',
      () => post('my-instance', { ...aws, endpoint: 'https://u:p@minio.example.com' }),
      400,
      'Invalid request body',
    ],
    [
      'a climbing path prefix',
      () => post('my-instance', { ...aws, pathPrefix: 'a/../b' }),
      400,
      'Invalid request body',
    ],
    [
      'a malformed If-Match',
      () => post('my-instance', aws, { token: instanceToken, 'if-match': 'W/"x"' }),
      400,
      'Invalid request body',
    ],
    [
      'an If-Match revision past what a number holds exactly',
      () => post('my-instance', aws, { token: instanceToken, 'if-match': '"9007199254740993"' }),
      400,
      'Invalid request body',
    ],
    ['no token', () => post('my-instance', aws, {}), 401, 'Invalid token'],
    [
      'a wrong token',
      () => post('my-instance', aws, { token: 'stw_AAAAAAAAAAAA_' + 'x'.repeat(43) }),
      401,
      'Invalid token',
    ],
    [
      'a bad token with a malformed body',
      () => post('my-instance', '{', { token: 'nope' }),
      401,
      'Invalid token',
    ],
    ['an instance token on another instance', () => post('second', aws), 401, 'Invalid token'],
    [
      'an unknown instance',
      () => post('no-such-instance', aws, { token: accountToken }),
      404,
      'Instance not found',
    ],
    [
      'another account’s instance',
      () => post('foreign', aws, { token: accountToken }),
      404,
      'Instance not found',
    ],
    [
      'a foreign instance seen by its own account',
      () => post('my-instance', aws, { token: otherAccountToken }),
      404,
      'Instance not found',
    ],
    [
      'a body declared in Latin-1, its secret outside ASCII',
      () => postBytes('application/json; charset=iso-8859-1', aws, 'latin1'),
      415,
      'Unsupported charset: send JSON in UTF-8',
    ],
    [
      'a body in Latin-1 that says nothing of its charset',
      () => postBytes('application/json', aws, 'latin1'),
      400,
      'Invalid request body',
    ],
    [
      'a body over 16 KiB',
      () => post('my-instance', { ...aws, pathPrefix: 'p'.repeat(17_000) }),
      413,
      'Request body too large',
    ],
    [
      'a non-JSON content type',
      () =>
        api.service.app.inject({
          method: 'POST',
          url: '/api/instance/s3/my-instance',
          headers: { token: instanceToken, 'content-type': 'text/plain' },
          payload: 'enabled=true',
        }),
      415,
      'Unsupported content type: send application/json',
    ],
    [
      'an unknown route',
      () => api.service.app.inject({ method: 'GET', url: '/api/nothing' }),
      404,
      'Route not found',
    ],
  ];
  for (const [what, send, status, message] of rows) {
    test(`${what} → ${status} ${message}`, async () => {
      const before = await eventCount();
      const response = await send();
      const error = assertFailure(response, status, message);
      if (status === 400 && what !== 'malformed JSON' && what !== 'an empty body') {
        assert.ok(error.details && error.details.length > 0, 'validation errors name the fields');
      }
      assert.equal(await eventCount(), before);
    });
  }

  test('validation details name each field at fault', async () => {
    const error = assertFailure(
      await post('my-instance', { enabled: true, bucket: 'ab', region: 'US EAST', extra: 1 }),
      400,
      'Invalid request body',
    );
    const fields = error.details!.map((problem) => problem.field).sort();
    assert.deepEqual(fields, ['accessKey', 'body', 'bucket', 'region']);
  });

  test('a store failure is a 500 with the contract message; the cause goes to the log only', async () => {
    await api.database.pool.query('ALTER TABLE events RENAME TO events_away');
    try {
      const response = await post('my-instance', { ...aws, bucket: 'fresh-bucket' });
      assertFailure(response, 500, 'Failed to update S3 configuration');
      assert.equal(response.body.includes('events'), false);
      assert.ok(
        api.logs.some((line) => line.includes('request failed') && line.includes('events')),
      );
    } finally {
      await api.database.pool.query('ALTER TABLE events_away RENAME TO events');
    }
  });

  test('the rate limit allows 100 requests a minute per token, then 429 with Retry-After', async () => {
    const { instanceToken: busyToken } = await api.access.createInstance('acme', 'busy');
    for (let n = 0; n < 100; n++) {
      const response = await post('busy', { enabled: false }, { token: busyToken });
      assert.equal(response.statusCode, 200);
    }
    const limited = await post('busy', { enabled: false }, { token: busyToken });
    assertFailure(limited, 429, 'Rate limit exceeded. Try again later.');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // Another token has its own budget.
    assert.equal((await post('my-instance', { enabled: false })).statusCode, 200);
  });
});

test('no secret or token reaches the log or a response', async () => {
  const canary = 'CANARY-route-secret-77aa';
  const response = await post('my-instance', { ...aws, secretKey: canary });
  assert.equal(response.statusCode, 200);
  assert.equal(response.body.includes(canary), false);
  const bad = await post('my-instance', { ...aws, secretKey: canary, bucket: 'X' });
  assert.equal(bad.body.includes(canary), false);
  const log = api.logs.join('');
  assert.equal(log.includes(canary), false);
  assert.equal(log.includes(instanceToken), false);
  const events = await api.database.pool.query(
    'SELECT data::text AS data FROM events WHERE stream_name = $1',
    [instanceStream('my-instance')],
  );
  assert.equal(
    events.rows.some((row) => row.data.includes(canary)),
    false,
  );
});
