import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings, SettingsError } from '../src/settings.ts';

test('nothing configured gives the embedded defaults', () => {
  const settings = loadSettings({});
  assert.equal(settings.PORT, 8080);
  assert.equal(settings.DATABASE_URL, undefined);
  assert.equal(settings.EVENTSTORE_URL, undefined);
  assert.equal(settings.KAFKA_BROKERS, undefined);
  assert.equal(settings.STOWAGE_DATA_DIR, '.data');
});

test('empty variables count as unset', () => {
  assert.equal(loadSettings({ KAFKA_BROKERS: '', PORT: '' }).PORT, 8080);
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
  ['DATABASE_URL', 'mysql://x', /^invalid setting DATABASE_URL: expected a postgres:\/\/ URL$/],
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
