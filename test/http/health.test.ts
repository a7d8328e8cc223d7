import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { createPool } from '../../src/infra/postgres/pool.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { s3ConfigProjectionName } from '../../src/projections/s3-config-projection.ts';
import { generateKeypair, initSealing } from '../../src/infra/sealing.ts';
import { startService } from '../../src/serve.ts';
import { loadSettings } from '../../src/settings.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { waitUntil } from '../projections/support/read-model.ts';
import { updated } from '../projections/support/s3-config-workload.ts';
import { awsSettings } from '../support/command-side.ts';

await initSealing();

const silent = pino({ level: 'silent' });

/** A dependency that accepts connections and never says a word. */
async function stalledServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What /health/ready answers, status and checks. */
async function readiness(service: { url: string }) {
  const response = await fetch(`${service.url}/health/ready`);
  return { status: response.status, body: (await response.json()) as { checks: unknown } };
}

// The API role as deployed: the master public key only.
const publicKeyOnly = { STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey };

/** The projector role alone, on `database`, as deployed. */
function startProjector(database: TestDatabase) {
  return startService(
    loadSettings({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', ...publicKeyOnly }),
    new Set(['projector']),
    silent,
  );
}

/** Waits for a 503 whose only failing check is the projector's. */
async function untilProjectorUnavailable(service: { url: string }, what: string) {
  await waitUntil(async () => (await readiness(service)).status === 503, { what });
  assert.deepEqual((await readiness(service)).body.checks, {
    database: 'ok',
    eventStore: 'ok',
    projector: 'unavailable',
  });
}

describe('readiness answers even when a dependency stalls', { timeout: 60_000 }, () => {
  let stalled: Awaited<ReturnType<typeof stalledServer>>;
  let database: TestDatabase;
  before(async () => {
    stalled = await stalledServer();
    database = await createTestDatabase();
  });
  after(async () => {
    await stalled?.close();
    await database?.drop();
  });

  test('a check that never settles is reported unavailable, the others still answer', async () => {
    const app = buildApp({
      logger: silent,
      readiness: [
        { name: 'fine', check: async () => {} },
        { name: 'stuck', check: () => new Promise<void>(() => {}) },
      ],
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json(), {
        status: 'not ready',
        checks: { fine: 'ok', stuck: 'unavailable' },
      });
    } finally {
      await app.close();
    }
  });

  test('a PostgreSQL endpoint that never answers gives 503', async () => {
    const pool = createPool(`postgres://stowage@127.0.0.1:${stalled.port}/stowage`, 1);
    const app = buildApp({
      logger: silent,
      readiness: [{ name: 'database', check: async () => void (await pool.query('SELECT 1')) }],
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json().checks, { database: 'unavailable' });
    } finally {
      await app.close();
      // Not awaited: ending waits for the connection attempt the stalled server never answers.
      void pool.end();
    }
  });

  test('the service with an EventStoreDB endpoint that never answers gives 503 naming it', async () => {
    const service = await startService(
      loadSettings({
        DATABASE_URL: database.url,
        EVENTSTORE_URL: `esdb://127.0.0.1:${stalled.port}?tls=false`,
        PORT: '0',
        HOST: '127.0.0.1',
        ...publicKeyOnly,
      }),
      new Set(['api']),
      silent,
    );
    try {
      const response = await fetch(`${service.url}/health/ready`);
      assert.equal(response.status, 503);
      assert.deepEqual(((await response.json()) as { checks: unknown }).checks, {
        database: 'ok',
        eventStore: 'unavailable',
      });
    } finally {
      await service.stop();
    }
  });

  test('a projector that refused a checkpoint of another log makes the service not ready', async () => {
    await database.pool.query(
      `INSERT INTO projection_checkpoints (name, position_major, position_minor, log_store, log_id)
       VALUES ($1, 1, 1, 'eventstoredb', 'another-cluster')`,
      [s3ConfigProjectionName],
    );
    const service = await startProjector(database);
    try {
      await untilProjectorUnavailable(service, 'the projector to refuse the checkpoint');
    } finally {
      await service.stop();
    }
  });
});

describe('a projector that keeps failing', { timeout: 60_000 }, () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database?.drop());

  test('while events wait for it, the service is not ready; once it catches up, ready again', async () => {
    const service = await startProjector(database);
    try {
      assert.equal(
        (await readiness(service)).status,
        200,
        'ready while retrying with nothing to project',
      );
      // The read model refuses this instance's row, as a table gone or a disk full would.
      await database.pool.query(
        `ALTER TABLE instance_s3_config ADD CONSTRAINT refuses_stuck CHECK (instance_name <> 'stuck')`,
      );
      const store = new PostgresEventStore(database.pool, database.connect);
      await store.appendToStream(
        instanceStream('stuck'),
        [updated('stuck', awsSettings, { keyId: 'k', ciphertext: 'c' })],
        'no_stream',
      );

      await untilProjectorUnavailable(
        service,
        'the failing projector to make the service not ready',
      );

      await database.pool.query('ALTER TABLE instance_s3_config DROP CONSTRAINT refuses_stuck');
      await waitUntil(async () => (await readiness(service)).status === 200, {
        what: 'the projector to catch up and the service to be ready again',
      });
    } finally {
      await service.stop();
    }
  });
});
