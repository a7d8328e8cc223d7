import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSettings, SettingsError } from '../src/settings.ts';

test('nothing configured gives the embedded defaults', () => {
  const settings = loadSettings({});
  assert.equal(settings.PORT, 8080);
  assert.equal(settings.DATABASE_URL, undefined);
  assert.equal(settings.EVENTSTORE_URL, undefined);
  assert.equal(settings.KAFKA_BROKERS, undefined);
  assert.equal(settings.STOWAGE_DATA_DIR, '.data');
});

test('the upload topics must be three different topics', () => {
  assert.throws(
    () =>
      loadSettings({
        STOWAGE_TOPIC_UPLOAD_REQUESTED: 'uploads',
        STOWAGE_TOPIC_UPLOAD_FAILED: 'uploads',
      }),
    /^SettingsError: invalid setting STOWAGE_TOPIC_UPLOAD_FAILED: the requested, completed and failed topics must be three different topics/,
  );
});

test('a PostgreSQL URL may name a Unix socket instead of a host', () => {
  const url = 'postgres://postgres@/stowage?host=/var/run/postgresql';
  assert.equal(loadSettings({ DATABASE_URL: url }).DATABASE_URL, url);
});

test('empty and blank variables count as unset', () => {
  assert.equal(loadSettings({ KAFKA_BROKERS: '', PORT: '' }).PORT, 8080);
  assert.equal(loadSettings({ PORT: ' ' }).PORT, 8080);
  assert.equal(
    loadSettings({ STOWAGE_CONSUMER_GROUP: '  ' }).STOWAGE_CONSUMER_GROUP,
    'stowage-media-upload',
  );
});

test('lists are split and checked', () => {
  const settings = loadSettings({
    KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092',
    STOWAGE_ROLES: 'api,worker',
  });
  assert.deepEqual(settings.KAFKA_BROKERS, ['kafka-1:9092', 'kafka-2:9092']);
  assert.deepEqual(settings.STOWAGE_ROLES, ['api', 'worker']);
});

for (const [variable, value, expected] of [
  ['KAFKA_BROKERS', '::::', /^invalid setting KAFKA_BROKERS: expected host:port/],
  ['PORT', 'eighty', /^invalid setting PORT: /],
  ['PORT', '70000', /^invalid setting PORT: /],
  ['PORT', '0x1F90', /^invalid setting PORT: expected a whole number in decimal digits/],
  // Node fires a timer longer than 2^31 - 1 ms after 1 ms.
  [
    'STOWAGE_MEDIA_DOWNLOAD_TIMEOUT_MS',
    '3000000000',
    /^invalid setting STOWAGE_MEDIA_DOWNLOAD_TIMEOUT_MS: /,
  ],
  ['STOWAGE_SHUTDOWN_TIMEOUT_MS', '2147483648', /^invalid setting STOWAGE_SHUTDOWN_TIMEOUT_MS: /],
  [
    'STOWAGE_KAFKA_SESSION_TIMEOUT_MS',
    '1000000000000',
    /^invalid setting STOWAGE_KAFKA_SESSION_TIMEOUT_MS: /,
  ],
  ['DATABASE_URL', 'mysql://x', /^invalid setting DATABASE_URL: expected a postgres:\/\/ URL$/],
  [
    'DATABASE_URL',
    'postgres://',
    /^invalid setting DATABASE_URL: expected a postgres:\/\/ URL with a host/,
  ],
  [
    'DATABASE_URL',
    'postgres://postgres:s3cr3t@127.0.0.1:99999/db',
    /^invalid setting DATABASE_URL: expected a postgres:\/\/ URL with a host and a valid port$/,
  ],
  ['EVENTSTORE_URL', 'http://x', /^invalid setting EVENTSTORE_URL: expected an esdb:\/\/ URL/],
  ['STOWAGE_ROLES', 'api,cook', /^invalid setting STOWAGE_ROLES: /],
  [
    'STOWAGE_SEAL_PUBLIC_KEY',
    'short',
    /^invalid setting STOWAGE_SEAL_PUBLIC_KEY: expected 32 bytes/,
  ],
] as const) {
  test(`${variable}=${value} is refused with one line naming the variable`, () => {
    assert.throws(
      () => loadSettings({ [variable]: value }),
      (error: Error) => {
        assert.ok(error instanceof SettingsError);
        assert.match(error.message, expected);
        assert.equal(error.message.includes('\n'), false);
        return true;
      },
    );
  });
}

test('a wrong secret setting is named but its value is never echoed', () => {
  const secret = 'not-a-key-but-still-private';
  assert.throws(
    () => loadSettings({ STOWAGE_SEAL_SECRET_KEY: secret }),
    (error: Error) =>
      !error.message.includes(secret) && /STOWAGE_SEAL_SECRET_KEY/.test(error.message),
  );
});

test('retired master secrets are a checked list whose values are never echoed', () => {
  const good = 'A'.repeat(43);
  assert.deepEqual(
    loadSettings({ STOWAGE_SEAL_RETIRED_SECRET_KEYS: `${good}, ${good}` })
      .STOWAGE_SEAL_RETIRED_SECRET_KEYS,
    [good, good],
  );
  const secret = 'not-a-key-but-still-private';
  assert.throws(
    () => loadSettings({ STOWAGE_SEAL_RETIRED_SECRET_KEYS: `${good},${secret}` }),
    (error: Error) =>
      !error.message.includes(secret) && /STOWAGE_SEAL_RETIRED_SECRET_KEYS/.test(error.message),
  );
});

test('Kafka SASL takes a mechanism with a user and a password, TLS a readable CA file', () => {
  const secured = loadSettings({
    KAFKA_BROKERS: 'broker-1:9096',
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: 'stowage',
    KAFKA_SASL_PASSWORD: 'kafka-password',
    KAFKA_TLS: 'true',
    KAFKA_TLS_CA_FILE: fileURLToPath(import.meta.url),
  });
  assert.equal(secured.KAFKA_SASL_MECHANISM, 'scram-sha-512');
  assert.equal(secured.KAFKA_TLS, true);
  assert.equal(loadSettings({}).KAFKA_TLS, false);

  const refused: [Record<string, string>, RegExp][] = [
    [
      { KAFKA_SASL_MECHANISM: 'gssapi' },
      /^invalid setting KAFKA_SASL_MECHANISM: .*"plain".* \(got "gssapi"\)$/,
    ],
    [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'kafka-password' },
      /^invalid setting KAFKA_SASL_USERNAME: needed with KAFKA_SASL_MECHANISM=plain$/,
    ],
    [
      { KAFKA_SASL_USERNAME: 'stowage', KAFKA_SASL_PASSWORD: 'kafka-password' },
      /^invalid setting KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512, since KAFKA_SASL_USERNAME is set$/,
    ],
    [
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'stowage' },
      /^invalid setting KAFKA_SASL_PASSWORD: needed with KAFKA_SASL_MECHANISM=plain$/,
    ],
    [
      { KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: '/no/such/ca.pem' },
      /^invalid setting KAFKA_TLS_CA_FILE: expected a file this process can read \(got "\/no\/such\/ca.pem"\)$/,
    ],
    [
      { KAFKA_TLS_CA_FILE: fileURLToPath(import.meta.url) },
      /^invalid setting KAFKA_TLS_CA_FILE: is used only with KAFKA_TLS=true/,
    ],
  ];
  for (const [env, expected] of refused) {
    assert.throws(
      () => loadSettings(env),
      (error: unknown) => {
        assert.ok(error instanceof SettingsError);
        assert.match(error.message, expected);
        assert.equal(error.message.includes('kafka-password'), false, 'the password is echoed');
        return true;
      },
      JSON.stringify(env),
    );
  }
});
