import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { formatPosition, parsePosition } from '../../src/event-sourcing/event-store.ts';
import { updateS3ConfigRoute } from '../../src/commands/update-s3-config.route.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { buildApp } from '../../src/http/app.ts';
import { accessControl, instanceAccess } from '../../src/http/auth.ts';
import type { Projector } from '../../src/event-sourcing/projection/projector.ts';
import { getS3ConfigHistoryRoute } from '../../src/queries/get-s3-config-history.route.ts';
import { getS3ConfigRoute } from '../../src/queries/get-s3-config.route.ts';
import { OwnWrites } from '../../src/queries/own-writes.ts';
import { PostgresProjectionProgress } from '../../src/queries/projection-progress.ts';
import { PostgresS3ConfigViews } from '../../src/queries/s3-config-views.ts';
import { awsSettings, commandSide, disabling, enabling } from '../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { projectorOver, reached } from '../projections/support/projection-harness.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

const token = { token: 'good-token' };
// The production bound: a loaded test machine can take longer than a shorter one to project.
const minPositionWaitMs = 2000;

describe('the S3 configuration query routes', () => {
  let database: TestDatabase;
  let side: ReturnType<typeof commandSide>;
  let projector: Projector;
  let progress: PostgresProjectionProgress;
  let app: ReturnType<typeof buildApp>;
  const ownWrites = new OwnWrites();
  // Every checkpoint read the query side makes: the only database work of waiting.
  let checkpointReads = 0;

  before(async () => {
    database = await createTestDatabase();
    side = commandSide(database);
    projector = projectorOver(database, { keyring: side.keyring });
    const countingPool = new Proxy(database.pool, {
      get(pool, property) {
        if (property !== 'query') return Reflect.get(pool, property, pool);
        return (...args: Parameters<typeof pool.query>) => {
          if (String(args[0]).includes('projection_checkpoints')) checkpointReads++;
          return (pool.query as (...a: unknown[]) => unknown)(...args);
        };
      },
    });
    progress = new PostgresProjectionProgress(countingPool, database.connect);
    // The real access hooks over a directory that knows one token of an account that owns
    // every instance.
    const access = instanceAccess({
      verifyToken: async (given) =>
        given === token.token ? { kind: 'account', tokenId: 'tok-1', accountId: 'acc-1' } : null,
      instanceExists: async () => true,
    });
    app = buildApp({ logger: pino({ level: 'silent' }), readiness: [] });
    await app.register(accessControl);
    await app.register(
      updateS3ConfigRoute({
        handle: side.handle,
        endpointPolicy: { allowPrivate: false },
        access,
        ownWrites,
      }),
    );
    await app.register(
      getS3ConfigRoute({
        views: new PostgresS3ConfigViews(database.pool),
        progress,
        access,
        ownWrites,
        minPositionWaitMs,
      }),
    );
    await app.register(getS3ConfigHistoryRoute({ eventStore: side.eventStore, access }));
  });
  after(async () => {
    await app?.close();
    await progress?.close();
    await projector?.stop();
    await database?.drop();
  });

  const get = (url: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url, headers: { ...token, ...headers } });

  test('an instance never configured reads as disabled, with no revision and no ETag', async () => {
    const response = await get('/api/instance/s3/nobody');
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      success: true,
      s3: {
        enabled: false,
        region: '',
        bucket: '',
        accessKey: '',
        endpoint: '',
        pathPrefix: '',
        updatedAt: null,
        revision: null,
        uploadStatus: null,
      },
    });
    assert.equal(response.headers.etag, undefined);
  });

  test('with minPosition a read sees the write it follows, without the secret', async () => {
    const written = await side.handle(enabling('rw', 'the-secret-key'));
    const started = Date.now();
    const response = await get(
      `/api/instance/s3/rw?minPosition=${formatPosition(written.position!)}`,
    );
    assert.ok(Date.now() - started < minPositionWaitMs, 'woken by the commit, not the timeout');
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['x-stowage-stale'], undefined);
    assert.equal(response.headers.etag, '"0"');
    const { s3 } = response.json();
    assert.deepEqual(
      { ...s3, updatedAt: typeof s3.updatedAt },
      { enabled: true, ...awsSettings, updatedAt: 'string', revision: 0, uploadStatus: null },
    );
    assert.doesNotMatch(response.body, /secret|cipher|keyId/i);

    const changed = await side.handle(enabling('rw', undefined, { bucket: 'moved' }));
    const byHeader = await get('/api/instance/s3/rw', {
      'x-stowage-min-position': formatPosition(changed.position!),
    });
    assert.equal(byHeader.json().s3.bucket, 'moved');
    assert.equal(byHeader.headers.etag, '"1"');
  });

  const post = (instance: string, body: Record<string, unknown>) =>
    app.inject({
      method: 'POST',
      url: `/api/instance/s3/${instance}`,
      headers: { ...token, 'content-type': 'application/json' },
      payload: body,
    });
  const seedAws = { enabled: true, ...awsSettings, secretKey: 'the-secret-key' };

  test('a GET right after a POST to this process waits for it, without being asked', async () => {
    const readsBefore = checkpointReads;
    const posted = await post('own', { ...seedAws, bucket: 'own-first' });
    assert.equal(posted.statusCode, 200);
    assert.deepEqual(
      ownWrites.pendingFor('own'),
      parsePosition(posted.headers['x-stowage-position'] as string),
    );

    const response = await get('/api/instance/s3/own');

    assert.equal(response.headers['x-stowage-stale'], undefined);
    assert.equal(response.json().s3.bucket, 'own-first');
    assert.equal(response.headers.etag, '"0"');
    assert.ok(checkpointReads > readsBefore, 'it waited by reading the checkpoint');
    assert.equal(ownWrites.pendingFor('own'), undefined, 'forgotten once the projection passed it');
  });

  test('a GET of an instance with nothing pending here neither waits nor reads the checkpoint', async () => {
    // Written through another process's command side: nothing this process must wait for.
    const elsewhere = await side.handle(enabling('elsewhere', 'another-secret'));
    await reached(projector, elsewhere.position!);
    const readsBefore = checkpointReads;

    for (const instance of ['own', 'elsewhere', 'nobody']) {
      const response = await get(`/api/instance/s3/${instance}`);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['x-stowage-stale'], undefined);
    }

    assert.equal(checkpointReads, readsBefore, 'no checkpoint read, so no wait');
    assert.equal((await get('/api/instance/s3/elsewhere')).json().s3.enabled, true);
  });

  test('an own write the projection does not reach in time: answered stale, and still waited for', async () => {
    const ahead = parsePosition('99999999999-1')!;
    ownWrites.appended('own', ahead);
    const response = await get('/api/instance/s3/own');
    assert.equal(response.headers['x-stowage-stale'], 'true');
    assert.equal(response.json().s3.bucket, 'own-first');
    assert.deepEqual(ownWrites.pendingFor('own'), ahead);
    ownWrites.passed(ahead);
  });

  test('a position the projection does not reach in time is answered anyway, marked stale', async () => {
    const started = Date.now();
    const response = await get('/api/instance/s3/rw?minPosition=99999999999-1');
    assert.ok(Date.now() - started >= minPositionWaitMs);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['x-stowage-stale'], 'true');
    assert.equal(response.json().s3.enabled, true);
  });

  test('a malformed position, a missing token: the contract error shape', async () => {
    const malformed = await get('/api/instance/s3/rw?minPosition=yesterday');
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().success, false);
    assert.equal(malformed.json().error.details[0].field, 'querystring.minPosition');

    const anonymous = await app.inject({ method: 'GET', url: '/api/instance/s3/rw/history' });
    assert.equal(anonymous.statusCode, 401);
    assert.deepEqual(anonymous.json(), { success: false, error: { message: 'Invalid token' } });
  });

  test('the history lists every change with its actor and field changes, and no secret material', async () => {
    await side.handle(enabling('hist', 'first-secret'));
    await side.handle(enabling('hist', 'first-secret', { pathPrefix: 'moved/' }));
    await side.handle(disabling('hist'));
    await side.handle(enabling('hist', 'second-secret', { bucket: 'other' }));
    const events = await side.eventStore.readStream(instanceStream('hist'));

    const response = await get('/api/instance/s3/hist/history');

    assert.equal(response.statusCode, 200);
    const enabledFields = {
      region: { from: '', to: 'us-east-1' },
      accessKey: { from: '', to: 'AKIAEXAMPLE' },
    };
    const byInstanceToken = { tokenKind: 'instance', tokenId: 'token-1' };
    assert.deepEqual(response.json(), {
      success: true,
      history: [
        {
          revision: 0,
          type: 'S3ConfigUpdated',
          at: events[0]!.data.at,
          actor: byInstanceToken,
          changes: {
            enabled: { from: false, to: true },
            ...enabledFields,
            bucket: { from: '', to: 'ryzeapi-media' },
            pathPrefix: { from: '', to: 'media/myinstance/' },
            secretKey: 'changed',
          },
        },
        {
          revision: 1,
          type: 'S3ConfigUpdated',
          at: events[1]!.data.at,
          actor: byInstanceToken,
          changes: { pathPrefix: { from: 'media/myinstance/', to: 'moved/' } },
        },
        {
          revision: 2,
          type: 'S3ConfigDisabled',
          at: events[2]!.data.at,
          actor: { tokenKind: 'account', tokenId: 'token-2' },
          changes: {
            enabled: { from: true, to: false },
            region: { from: 'us-east-1', to: '' },
            bucket: { from: 'ryzeapi-media', to: '' },
            accessKey: { from: 'AKIAEXAMPLE', to: '' },
            pathPrefix: { from: 'moved/', to: '' },
          },
        },
        {
          revision: 3,
          type: 'S3ConfigUpdated',
          at: events[3]!.data.at,
          actor: byInstanceToken,
          changes: {
            enabled: { from: false, to: true },
            ...enabledFields,
            bucket: { from: '', to: 'other' },
            pathPrefix: { from: '', to: 'media/myinstance/' },
            secretKey: 'changed',
          },
        },
      ],
      nextAfter: null,
    });
    for (const event of events) {
      const secret = event.data.secret as Record<string, string> | undefined;
      for (const material of [secret?.ciphertext, secret?.mac, secret?.keyId, event.data.keyId]) {
        if (typeof material === 'string') assert.ok(!response.body.includes(material));
      }
    }
    assert.doesNotMatch(response.body, /cipher|mac|keyId/i);
  });

  test('the history pages with limit and after, oldest first', async () => {
    const first = await get('/api/instance/s3/hist/history?limit=3');
    assert.deepEqual(
      first.json().history.map((entry: { revision: number }) => entry.revision),
      [0, 1, 2],
    );
    assert.equal(first.json().nextAfter, 2);

    const second = await get('/api/instance/s3/hist/history?limit=3&after=2');
    assert.deepEqual(
      second.json().history.map((entry: { revision: number }) => entry.revision),
      [3],
    );
    assert.equal(second.json().nextAfter, null);

    const tooMany = await get('/api/instance/s3/hist/history?limit=501');
    assert.equal(tooMany.statusCode, 400);
    // What Number() would also read is refused: only decimal digits page.
    for (const [query, field] of [
      ['after=0x1', 'after'],
      ['after=1e2', 'after'],
      ['after=', 'after'],
      ['after=%201', 'after'],
      ['limit=', 'limit'],
      ['limit=0x10', 'limit'],
    ]) {
      const refused = await get(`/api/instance/s3/hist/history?${query}`);
      assert.equal(refused.statusCode, 400, query);
      assert.equal(refused.json().error.details[0].field, `querystring.${field}`, query);
    }
    const empty = await get('/api/instance/s3/nobody/history');
    assert.deepEqual(empty.json(), { success: true, history: [], nextAfter: null });
  });

  test('the projector has caught up with everything the routes were shown', async () => {
    const last = await side.eventStore.readStream(instanceStream('hist'));
    await reached(projector, last.at(-1)!.position);
    const response = await get('/api/instance/s3/hist');
    assert.equal(response.headers.etag, '"3"');
    assert.equal(response.json().s3.bucket, 'other');
  });
});
