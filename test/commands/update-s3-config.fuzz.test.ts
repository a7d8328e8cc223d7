import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startTestApi, type TestApi } from '../support/api.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

let api: TestApi;
let token: string;
before(async () => {
  // The rate limit would turn most of these into 429s before they reach validation.
  api = await startTestApi({ STOWAGE_RATE_LIMIT_PER_MINUTE: '1000000' });
  await api.access.createAccount('fuzz');
  ({ instanceToken: token } = await api.access.createInstance('fuzz', 'target'));
});
after(() => api?.close());

const fields = ['enabled', 'region', 'bucket', 'accessKey', 'secretKey', 'endpoint', 'pathPrefix'];
const hostileKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

const hostileString = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '../../etc/passwd',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]',
    'javascript:alert(1)',
    '\u0000',
    '\ud800',
    'ＡＫＩＡ',
    '${jndi:ldap://x}',
    "'; DROP TABLE events; --",
    'a'.repeat(5000),
  ),
);

const bodyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    hostileString,
    fc.boolean(),
    fc.double(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...fields, ...hostileKeys), fc.string()), tie('value'), {
      maxKeys: 5,
    }),
  ),
})).value;

const hostileBody = fc.oneof(
  // Objects with the real fields holding anything.
  fc
    .record(Object.fromEntries(fields.map((field) => [field, bodyValue])), { requiredKeys: [] })
    .map((body) => JSON.stringify(body)),
  bodyValue.map((value) => JSON.stringify(value) ?? 'undefined'),
  // Prototype pollution through keys JSON.parse keeps as own properties.
  fc
    .tuple(fc.constantFrom(...hostileKeys), bodyValue)
    .map(([key, value]) => `{"enabled":true,"${key}":${JSON.stringify(value) ?? 'null'}}`),
  // Deep nesting and raw bytes.
  fc.integer({ min: 100, max: 4000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc
    .integer({ min: 100, max: 4000 })
    .map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  'application/json; charset=latin1',
);

const instanceName = fc.oneof(
  fc.constant('target'),
  fc.constant('target'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom('..%2F..%2Fetc', '%00', 'a'.repeat(300), '__proto__', '%E0%A4%A'),
);

const tokenHeader = fc.oneof(
  fc.constant<string | undefined>(undefined),
  fc.constant(undefined).map(() => token),
  fc.constant(undefined).map(() => token),
  hostileString,
);

test('thousands of hostile requests get a 4xx in the contract shape, never a 5xx, and append nothing', async () => {
  const eventCount = async () =>
    Number((await api.database.pool.query('SELECT count(*) FROM events')).rows[0].count);
  const before = await eventCount();

  await fc.assert(
    fc.asyncProperty(
      hostileBody,
      contentType,
      instanceName,
      tokenHeader,
      async (payload, type, instance, tokenValue) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (tokenValue !== undefined) headers.token = tokenValue.replace(/[^\t\x20-\x7e]/g, '');
        const response = await api.service.app.inject({
          method: 'POST',
          url: `/api/instance/s3/${instance}`,
          headers,
          payload,
        });
        assert.ok(response.statusCode < 500, `${response.statusCode} ${response.body}`);
        if (response.statusCode >= 400) {
          const body = response.json();
          assert.equal(body.success, false);
          assert.equal(typeof body.error.message, 'string');
        }
      },
    ),
    { numRuns: 3000 },
  );

  assert.equal(await eventCount(), before);
  assert.equal(({} as Record<string, unknown>).enabled, undefined, 'Object.prototype untouched');
});
