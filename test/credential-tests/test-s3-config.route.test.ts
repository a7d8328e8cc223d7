import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  testS3ConfigRoute,
  type TestS3ConfigRouteDeps,
} from '../../src/credential-tests/test-s3-config.route.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { accessControl, instanceAccess } from '../../src/http/auth.ts';
import { clientMessages } from '../../src/http/error-handler.ts';
import { requestRateLimit } from '../../src/http/rate-limit.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { createGuardedAgents } from '../../src/infra/s3/guarded-agents.ts';
import { PostgresCredentialTestMailbox } from '../../src/infra/postgres/credential-test-mailbox.ts';
import { PostgresInstanceKeyring } from '../../src/infra/postgres/postgres-instance-keyring.ts';
import type { Projector } from '../../src/event-sourcing/projection/projector.ts';
import { startCredentialTestResponder } from '../../src/workers/credential-tests/credential-test-responder.ts';
import { commandSide, enabling, testMasterKey } from '../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { s3TestServer } from '../support/services.ts';
import { projectorOver, reached } from '../projections/support/projection-harness.ts';
import {
  createTestBucket,
  objectKeys,
  removeTestBucket,
  testS3Client,
} from '../support/buckets.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

describe('POST /api/instance/s3/:instance/test', () => {
  let database: TestDatabase;
  let app: App;
  let responder: { stop(): Promise<void> };
  let side: ReturnType<typeof commandSide>;
  let access: PostgresAccessStore;
  let projector: Projector;
  let s3: S3Client;
  let bucket: string;
  let token: string;
  const agents = createGuardedAgents({ allowPrivate: true });
  const server = () => s3TestServer();
  const supplied = () => ({
    region: server().region,
    bucket,
    accessKey: server().accessKeyId,
    secretKey: server().secretAccessKey,
    endpoint: server().endpoint,
    pathPrefix: 'probe/',
  });

  before(async () => {
    s3 = testS3Client();
    bucket = await createTestBucket(s3);
    database = await createTestDatabase();
    // As deployed: the API seals with the public half only; the worker holds the secret half.
    const masterKey = testMasterKey();
    side = commandSide(database, { id: masterKey.id, publicKey: masterKey.publicKey });
    projector = projectorOver(database, { keyring: side.keyring });
    const logger = pino({ level: 'silent' });
    access = new PostgresAccessStore({ pool: database.pool, connect: database.connect, logger });
    await access.createAccount('acme');
    ({ instanceToken: token } = await access.createInstance('acme', 'configured'));
    await access.createInstance('acme', 'bare');
    const outcome = await side.handle(
      enabling('configured', server().secretAccessKey, {
        region: server().region,
        bucket,
        accessKey: server().accessKeyId,
        endpoint: server().endpoint,
        pathPrefix: 'media/',
      }),
    );
    await reached(projector, outcome.position ?? null);

    responder = await startCredentialTestResponder({
      pool: database.pool,
      connect: database.connect,
      mailbox: new PostgresCredentialTestMailbox(database.pool),
      keys: new PostgresInstanceKeyring(database.pool, masterKey),
      allowPrivateEndpoints: true,
      logger,
    });
    const mailbox = new PostgresCredentialTestMailbox(database.pool);
    app = await routeApp((instance) => mailbox.ask(instance));
  });

  const routeApp = async (testStored: TestS3ConfigRouteDeps['testStored']) => {
    const routed = buildApp({ logger: pino({ level: 'silent' }), readiness: [] });
    await routed.register(accessControl);
    await routed.register(requestRateLimit);
    await routed.register(
      testS3ConfigRoute({
        access: instanceAccess(access),
        endpointPolicy: { allowPrivate: true },
        testStored,
        connection: { ...agents, timeoutMs: 5_000, exchangeWithinMs: 5_000, maxAttempts: 1 },
      }),
    );
    return routed;
  };

  after(async () => {
    await app?.close();
    await responder?.stop();
    await projector?.stop();
    await access?.close();
    agents.destroy();
    await database?.drop();
    await removeTestBucket(s3, bucket);
  });

  const probe = (instance: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: `/api/instance/s3/${instance}/test`,
      headers: {
        token,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  test('the stored credentials pass every step, and the probe object is gone afterwards', async () => {
    const response = await probe('configured');
    assert.equal(response.statusCode, 200, response.body);
    const answer = response.json();
    assert.equal(answer.ok, true);
    assert.equal(answer.tested, 'stored');
    assert.deepEqual(
      answer.steps.map((step: { step: string; ok: boolean }) => [step.step, step.ok]),
      [
        ['headBucket', true],
        ['putObject', true],
        ['deleteObject', true],
      ],
    );
    assert.match(answer.steps[1].message, /^wrote media\/stowage-probe-/);
    assert.deepEqual(await objectKeys(s3, bucket), []);
  });

  test('`{}` tests the stored credentials too, and the mailbox keeps no row', async () => {
    const response = await probe('configured', {});
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json().tested, 'stored');
    assert.equal(response.json().ok, true);
    const { rows } = await database.pool.query(
      'SELECT count(*)::int AS n FROM credential_test_requests',
    );
    assert.equal(rows[0].n, 0);
  });

  test('stored credentials that the bucket refuses are answered as a failed step', async () => {
    const { instanceToken } = await access.createInstance('acme', 'wrong-secret');
    const outcome = await side.handle(
      enabling('wrong-secret', 'not-the-right-secret', {
        region: server().region,
        bucket,
        accessKey: server().accessKeyId,
        endpoint: server().endpoint,
      }),
    );
    await reached(projector, outcome.position ?? null);
    const response = await probe('wrong-secret', undefined, { token: instanceToken });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json().ok, false);
    assert.equal(response.json().steps[0].code, 'AccessDenied');
    assert.ok(!response.body.includes('not-the-right-secret'));
  });

  test('a worker that took the request but did not answer in time gives 504', async () => {
    const lonely = await routeApp(async () => ({ outcome: 'late' }));
    try {
      const response = await lonely.inject({
        method: 'POST',
        url: '/api/instance/s3/configured/test',
        headers: { token },
      });
      assert.equal(response.statusCode, 504);
      assert.equal(response.json().error.message, clientMessages['worker-late']);
    } finally {
      await lonely.close();
    }
  });

  test('supplied settings with a wrong secret fail at the first step; the rest is skipped', async () => {
    const response = await probe('configured', { ...supplied(), secretKey: 'wrong-secret-value' });
    assert.equal(response.statusCode, 200, response.body);
    const answer = response.json();
    assert.equal(answer.ok, false);
    assert.equal(answer.tested, 'supplied');
    assert.equal(answer.steps[0].ok, false);
    assert.equal(answer.steps[0].code, 'AccessDenied');
    assert.deepEqual(
      answer.steps.slice(1).map((step: { skipped: boolean }) => step.skipped),
      [true, true],
    );
    assert.ok(!response.body.includes('wrong-secret-value'), 'the secret is never answered');
  });

  test('a bucket that does not exist is named as such', async () => {
    const answer = (
      await probe('configured', { ...supplied(), bucket: 'no-such-bucket-here' })
    ).json();
    assert.equal(answer.steps[0].code, 'NoSuchBucket');
    assert.match(answer.steps[0].message, /bucket does not exist/);
  });

  test('an instance without stored storage must send settings', async () => {
    const { instanceToken } = await access.createInstance('acme', 'other');
    const response = await probe('other', undefined, { token: instanceToken });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), {
      success: false,
      error: { message: clientMessages['s3-not-enabled'] },
    });
  });

  test('tokens and the body are checked like the POST', async () => {
    assert.equal((await probe('configured', undefined, { token: 'nope' })).statusCode, 401);
    const refused = await probe('configured', {
      ...supplied(),
      endpoint: 'http://169.254.169.254',
    });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().error.details[0].field, 'endpoint');
    const incomplete = await probe('configured', { region: 'us-east-1' });
    assert.equal(incomplete.statusCode, 400);
  });

  // Last: it stops the worker side.
  test('with no worker running, a stored test answers 503 within its bound and leaves no row', async () => {
    const lonely = await routeApp((instance) =>
      new PostgresCredentialTestMailbox(database.pool, 300).ask(instance),
    );
    try {
      await responder.stop();
      const response = await lonely.inject({
        method: 'POST',
        url: '/api/instance/s3/configured/test',
        headers: { token },
      });
      assert.equal(response.statusCode, 503, response.body);
      assert.deepEqual(response.json(), {
        success: false,
        error: { message: clientMessages['no-worker'] },
      });
      const { rows } = await database.pool.query(
        'SELECT count(*)::int AS n FROM credential_test_requests',
      );
      assert.equal(rows[0].n, 0);
    } finally {
      await lonely.close();
    }
  });
});
