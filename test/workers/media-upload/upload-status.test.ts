import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { StatusRecorder } from '../../../src/workers/media-upload/status-recorder.ts';
import { PostgresS3ConfigViews } from '../../../src/queries/s3-config-views.ts';
import {
  writeUploadStatuses,
  type UploadStatus,
} from '../../../src/workers/media-upload/upload-status.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { initSealing } from '../../../src/infra/sealing.ts';

await initSealing();

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(() => database?.drop());

// What GET /api/instance/s3/:instance shows of it.
const latestUploadOutcome = async (instance: string) =>
  (await new PostgresS3ConfigViews(database.pool).find(instance))?.uploadStatus ?? undefined;

const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second));

test('the latest upload and the latest error are kept side by side, and never move back in time', async () => {
  const write = (statuses: UploadStatus[]) => writeUploadStatuses(database.pool, statuses);
  assert.equal(await latestUploadOutcome('alpha'), undefined);
  await write([{ instance: 'alpha', lastUpload: { at: at(10), key: 'media/a.jpg' } }]);
  await write([
    { instance: 'alpha', lastError: { at: at(20), reason: 'the bucket does not exist' } },
  ]);
  // A late report from another worker, about an earlier moment, changes nothing.
  await write([
    {
      instance: 'alpha',
      lastUpload: { at: at(5), key: 'media/old.jpg' },
      lastError: { at: at(15), reason: 'older error' },
    },
  ]);
  assert.deepEqual(await latestUploadOutcome('alpha'), {
    lastUploadAt: at(10).toISOString(),
    lastUploadKey: 'media/a.jpg',
    lastError: { at: at(20).toISOString(), reason: 'the bucket does not exist' },
  });
  await write([{ instance: 'alpha', lastUpload: { at: at(30), key: 'media/b.jpg' } }]);
  const latest = await latestUploadOutcome('alpha');
  assert.equal(latest?.lastUploadKey, 'media/b.jpg');
  assert.equal(latest?.lastError?.reason, 'the bucket does not exist');
});

test('the recorder merges what is pending per instance and writes in the background', async () => {
  const written: UploadStatus[][] = [];
  let failNext = true;
  const recorder = new StatusRecorder(
    async (statuses) => {
      if (failNext) {
        failNext = false;
        throw new Error('database away');
      }
      written.push([...statuses]);
    },
    pino({ level: 'silent' }),
  );
  recorder.record({ instance: 'a', lastUpload: { at: at(1), key: 'k1' } });
  recorder.record({ instance: 'a', lastUpload: { at: at(2), key: 'k2' } });
  recorder.record({ instance: 'a', lastError: { at: at(3), reason: 'r' } });
  recorder.record({ instance: 'b', lastUpload: { at: at(1), key: 'x' } });
  // The first write fails; what it held is kept and written on close.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await recorder.close();
  const last = written.at(-1)!;
  assert.deepEqual(
    last.find((status) => status.instance === 'a'),
    { instance: 'a', lastUpload: { at: at(2), key: 'k2' }, lastError: { at: at(3), reason: 'r' } },
  );
  assert.ok(last.some((status) => status.instance === 'b'));
});
