import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings, SettingsError } from '../../src/settings.ts';

test('the worker settings default to the documented topics, group and bounds', () => {
  const settings = loadSettings({});
  assert.equal(settings.STOWAGE_TOPIC_UPLOAD_REQUESTED, 'media.upload.requested');
  assert.equal(settings.STOWAGE_TOPIC_UPLOAD_COMPLETED, 'media.upload.completed');
  assert.equal(settings.STOWAGE_TOPIC_UPLOAD_FAILED, 'media.upload.failed');
  assert.equal(settings.STOWAGE_TOPIC_PARTITIONS, 6);
  assert.equal(settings.STOWAGE_TOPIC_REPLICATION_FACTOR, 1);
  assert.equal(settings.STOWAGE_TOPIC_RETENTION_MS, 7 * 24 * 3600 * 1000);
  assert.equal(settings.STOWAGE_TOPIC_MAX_MESSAGE_BYTES, 1024 * 1024);
  assert.equal(settings.STOWAGE_MEDIA_DOWNLOAD_TIMEOUT_MS, 10 * 60 * 1000);
  assert.equal(settings.STOWAGE_MEDIA_MAX_BYTES, 2 * 1024 ** 3);
  assert.equal(settings.STOWAGE_CONSUMER_GROUP, 'stowage-media-upload');
  assert.equal(settings.STOWAGE_PRESIGN_TTL_SECONDS, 604_800);
});

for (const [variable, value] of [
  ['STOWAGE_PRESIGN_TTL_SECONDS', '604801'],
  ['STOWAGE_TOPIC_UPLOAD_FAILED', 'media upload failed'],
  ['STOWAGE_UPLOAD_CONCURRENCY', '0'],
  ['STOWAGE_KAFKA_SESSION_TIMEOUT_MS', '1000'],
  ['STOWAGE_TOPIC_MAX_MESSAGE_BYTES', '1000'],
  ['STOWAGE_TOPIC_REPLICATION_FACTOR', '0'],
] as const) {
  test(`${variable}=${value} is refused`, () => {
    assert.throws(
      () => loadSettings({ [variable]: value }),
      (error: Error) => error instanceof SettingsError && error.message.includes(variable),
    );
  });
}
