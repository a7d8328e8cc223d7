import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { accessControl, instanceAccess } from '../../src/http/auth.ts';
import { openApi } from '../../src/http/openapi.ts';
import { requestRateLimit } from '../../src/http/rate-limit.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { consoleQueryRoutes } from '../../src/queries/console-routes.ts';
import { PostgresInstanceListViews } from '../../src/queries/instance-list-views.ts';
import { PostgresUploadHistoryViews } from '../../src/queries/upload-history-views.ts';
import { UploadHistoryRecorder } from '../../src/workers/media-upload/upload-history.ts';
import { writeUploadStatuses } from '../../src/workers/media-upload/upload-status.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

const logger = pino({ level: 'silent' });
const rateLimit = 12;

describe('GET /api/instances and GET /api/instance/s3/:instance/uploads', () => {
  let database: TestDatabase;
  let access: PostgresAccessStore;
  let app: ReturnType<typeof buildApp>;
  let accountToken: string;
  let otherAccountToken: string;
  let instanceToken: string;

  before(async () => {
    database = await createTestDatabase();
    access = new PostgresAccessStore({ pool: database.pool, connect: database.connect, logger });
    accountToken = (await access.createAccount('acme')).accountToken;
    otherAccountToken = (await access.createAccount('globex')).accountToken;
    // Created out of order: the list is by name, whatever the creation order.
    for (const name of ['shop-c', 'shop-a', 'shop-b']) await access.createInstance('acme', name);
    instanceToken = (await access.createInstance('acme', 'shop-d')).instanceToken;
    await access.createInstance('globex', 'elsewhere');
    // The read model row the projection writes for an enabled instance.
    await database.pool.query(
      `INSERT INTO instance_s3_config (instance_name, enabled, region, bucket, access_key,
         revision, updated_at, updated_by)
       VALUES ('shop-a', true, 'us-east-1', 'acme-media', 'AKIA1', 0, now(), '{}')`,
    );
    await writeUploadStatuses(database.pool, [
      { instance: 'shop-a', lastUpload: { at: new Date('2026-01-01T10:00:00Z'), key: 'm/1.jpg' } },
      {
        instance: 'shop-b',
        lastUpload: { at: new Date('2026-01-01T10:00:00Z'), key: 'm/2.jpg' },
        lastError: { at: new Date('2026-01-01T11:00:00Z'), reason: 'AccessDenied' },
      },
    ]);

    app = buildApp({ logger, readiness: [] });
    await app.register(openApi);
    await app.register(accessControl);
    await app.register(requestRateLimit, { max: rateLimit });
    await app.register(
      consoleQueryRoutes({
        instances: new PostgresInstanceListViews(database.pool),
        uploads: new PostgresUploadHistoryViews(database.pool),
        access: instanceAccess(access),
      }),
    );
  });
  after(async () => {
    await app?.close();
    await access?.close();
    await database?.drop();
  });

  const get = (url: string, token: string) =>
    app.inject({ method: 'GET', url, headers: { token } });

  test('an account token lists its own instances by name, with storage and latest outcome', async () => {
    const response = await get('/api/instances', accountToken);
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      success: true,
      instances: [
        {
          name: 'shop-a',
          enabled: true,
          bucket: 'acme-media',
          latestUpload: { outcome: 'completed', at: '2026-01-01T10:00:00.000Z' },
        },
        {
          name: 'shop-b',
          enabled: false,
          bucket: '',
          latestUpload: {
            outcome: 'failed',
            at: '2026-01-01T11:00:00.000Z',
            reason: 'AccessDenied',
          },
        },
        { name: 'shop-c', enabled: false, bucket: '', latestUpload: null },
        { name: 'shop-d', enabled: false, bucket: '', latestUpload: null },
      ],
      nextAfter: null,
    });
  });

  test('pages follow nextAfter until it is null', async () => {
    const first = (await get('/api/instances?limit=3', accountToken)).json();
    assert.deepEqual(
      first.instances.map((instance: { name: string }) => instance.name),
      ['shop-a', 'shop-b', 'shop-c'],
    );
    assert.equal(first.nextAfter, 'shop-c');
    const second = (await get('/api/instances?limit=3&after=shop-c', accountToken)).json();
    assert.deepEqual(
      second.instances.map((instance: { name: string }) => instance.name),
      ['shop-d'],
    );
    assert.equal(second.nextAfter, null);
  });

  test('an instance token sees its one instance; another account sees none of these', async () => {
    const own = (await get('/api/instances', instanceToken)).json();
    assert.deepEqual(
      own.instances.map((instance: { name: string }) => instance.name),
      ['shop-d'],
    );
    const other = (await get('/api/instances', otherAccountToken)).json();
    assert.deepEqual(
      other.instances.map((instance: { name: string }) => instance.name),
      ['elsewhere'],
    );
  });

  test('a bad token or bad paging gets the contract error shape', async () => {
    const unauthorised = await get('/api/instances', 'not-a-token');
    assert.equal(unauthorised.statusCode, 401);
    assert.deepEqual(unauthorised.json(), { success: false, error: { message: 'Invalid token' } });
    const badLimit = await get('/api/instances?limit=0', accountToken);
    assert.equal(badLimit.statusCode, 400);
    assert.equal(badLimit.json().error.message, 'Invalid request body');
    assert.equal(badLimit.json().error.details[0].field, 'querystring.limit');
    const badAfter = await get('/api/instances?after=%3Cscript%3E', accountToken);
    assert.equal(badAfter.statusCode, 400);
    const hexLimit = await get('/api/instances?limit=0x10', accountToken);
    assert.equal(hexLimit.statusCode, 400);
    assert.equal(hexLimit.json().error.details[0].field, 'querystring.limit');
  });

  test('the upload outcomes the worker recorded: per hour over a day, and the latest ones', async () => {
    const recorder = new UploadHistoryRecorder(database.pool, logger);
    const now = Date.now();
    for (let index = 0; index < 25; index += 1) {
      recorder.record({
        instance: 'shop-a',
        at: new Date(now - (25 - index) * 1000),
        outcome: index % 5 === 0 ? 'failed' : 'completed',
        detail: index % 5 === 0 ? `reason ${index}` : `m/${index}.jpg`,
      });
    }
    await recorder.close();
    const response = await get('/api/instance/s3/shop-a/uploads', accountToken);
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.hourly.length, 24);
    const counted = body.hourly.reduce(
      (
        sum: { completed: number; failed: number },
        hour: { completed: number; failed: number },
      ) => ({
        completed: sum.completed + hour.completed,
        failed: sum.failed + hour.failed,
      }),
      { completed: 0, failed: 0 },
    );
    assert.deepEqual(counted, { completed: 20, failed: 5 });
    // Bounded to the newest 20, newest first.
    assert.equal(body.recent.length, 20);
    assert.deepEqual(body.recent[0], {
      outcome: 'completed',
      at: new Date(now - 1000).toISOString(),
      key: 'm/24.jpg',
    });
    assert.deepEqual(body.recent[4], {
      outcome: 'failed',
      at: new Date(now - 5000).toISOString(),
      reason: 'reason 20',
    });
    const { rows } = await database.pool.query(
      `SELECT count(*)::int AS n FROM instance_recent_uploads WHERE instance_name = 'shop-a'`,
    );
    assert.equal(rows[0].n, 20);
  });

  test('upload outcomes follow the instance rules: 404 for another account, 401 for another instance token', async () => {
    assert.equal((await get('/api/instance/s3/elsewhere/uploads', accountToken)).statusCode, 404);
    assert.equal((await get('/api/instance/s3/shop-a/uploads', instanceToken)).statusCode, 401);
    const empty = (await get('/api/instance/s3/shop-d/uploads', instanceToken)).json();
    assert.deepEqual(empty.recent, []);
    assert.ok(
      empty.hourly.every(
        (hour: { completed: number; failed: number }) => hour.completed + hour.failed === 0,
      ),
    );
  });

  test('both routes are in the OpenAPI document', async () => {
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(document.paths['/api/instances'].get);
    assert.ok(document.paths['/api/instance/s3/{instance}/uploads'].get);
  });

  test('the list shares the per-token rate limit and answers 429 in the contract shape', async () => {
    const { accountToken: fresh } = await access.createAccount('initech');
    const statuses: number[] = [];
    for (let index = 0; index <= rateLimit; index += 1) {
      statuses.push((await get('/api/instances', fresh)).statusCode);
    }
    assert.deepEqual(statuses.slice(0, rateLimit), Array(rateLimit).fill(200));
    const limited = await get('/api/instances', fresh);
    assert.equal(limited.statusCode, 429);
    assert.deepEqual(limited.json(), {
      success: false,
      error: { message: 'Rate limit exceeded. Try again later.' },
    });
    assert.ok(limited.headers['retry-after']);
  });
});
