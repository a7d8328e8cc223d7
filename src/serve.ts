import { buildApp, type App } from './http/app.ts';
import type { ReadinessCheck } from './http/health.ts';
import { openEventStore } from './infra/event-store/open-event-store.ts';
import { bufferedStdout, createLogger, type Logger } from './infra/logger.ts';
import { loadMasterKey } from './infra/master-keys.ts';
import { initSealing } from './infra/sealing.ts';
import { openDatabase } from './infra/postgres/database.ts';
import { PostgresInstanceKeyring } from './infra/postgres/postgres-instance-keyring.ts';
import { collectUnreferencedKeysHourly } from './infra/postgres/unreferenced-keys.ts';
import { startProjector } from './event-sourcing/projection/projector.ts';
import { s3ConfigProjection } from './projections/s3-config-projection.ts';
import { SettingsError, type Role, type Settings } from './settings.ts';
import { createMetrics, metricsRoute } from './http/metrics.ts';
import { projectionLagSeconds } from './event-sourcing/projection/projection-lag.ts';
import { startCredentialTestResponder } from './workers/credential-tests/credential-test-responder.ts';
import { startMediaUploadWorker } from './workers/media-upload/worker.ts';
import { PostgresCredentialTestMailbox } from './infra/postgres/credential-test-mailbox.ts';
import { registerApiRole } from './roles/api-role.ts';

export interface RunningService {
  /** Where the HTTP server listens, e.g. http://127.0.0.1:8080. */
  url: string;
  app: App;
  stop(): Promise<void>;
}

/** Runs until SIGTERM or SIGINT, then shuts down in order. */
export async function serve(settings: Settings, roles: ReadonlySet<Role>): Promise<void> {
  const logger = createLogger(settings.LOG_LEVEL, bufferedStdout());
  const service = await startService(settings, roles, logger);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down');
  await service.stop();
}

type Cleanup = () => Promise<void>;

const probeStream = 'stowage-readiness-probe';
// The third failure in a row comes after backing off 200 and 400 ms: past a blip, and well
// within an orchestrator's probe period.
const stuckProjectorFailures = 3;

/** Starts the given roles in this process; every role also serves /health. */
export async function startService(
  settings: Settings,
  roles: ReadonlySet<Role>,
  logger: Logger,
): Promise<RunningService> {
  const cleanups: Cleanup[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) =>
        logger.warn({ err: error }, 'shutdown step failed'),
      );
    }
  };
  try {
    await initSealing();
    const database = await openDatabase(settings, logger);
    cleanups.push(database.close);
    const opened = await openEventStore(settings, database);
    cleanups.push(opened.close);
    const eventStore = opened.store;
    if (settings.STOWAGE_SEAL_SECRET_KEY && roles.has('api') && !roles.has('worker')) {
      throw new SettingsError(
        'invalid setting STOWAGE_SEAL_SECRET_KEY: the api role must not hold the master private key (give it STOWAGE_SEAL_PUBLIC_KEY only)',
      );
    }
    const masterKey = await loadMasterKey(settings, logger);
    const keyring = new PostgresInstanceKeyring(database.pool, masterKey);
    const s3Configs = s3ConfigProjection(keyring);

    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => void (await database.pool.query('SELECT 1')) },
      // A user stream that is never written: reading it proves the store answers and lets this
      // user read (system streams such as $ping are for $admins only once auth is on).
      { name: 'eventStore', check: async () => void (await eventStore.readStream(probeStream)) },
    ];
    const app = buildApp({ logger, readiness });
    // Closed first on shutdown: no new requests while the rest stops.
    const closeApp = () => app.close();
    const s3ConfigsLagSeconds = projectionLagSeconds(database.pool, eventStore, s3Configs);
    const metrics = createMetrics({
      projectionLagSeconds: s3ConfigsLagSeconds,
      masterKeysUnavailable: () => keyring.unavailableMasterKeys.size,
    });
    await app.register(metricsRoute(metrics));

    if (roles.has('projector')) {
      const projector = startProjector({
        definition: s3Configs,
        pool: database.pool,
        feed: eventStore,
        connect: database.connect,
        logger,
      });
      // A poison event stops the projection (logged there); readiness then says so. So does a
      // projector that keeps failing while events wait for it (a read-model table gone, say):
      // every read is then left behind. Retrying with nothing to project harms no one.
      let projectorFailed = false;
      projector.done.catch(() => (projectorFailed = true));
      readiness.push({
        name: 'projector',
        check: async () => {
          if (projectorFailed) {
            throw new Error(
              'the projection stopped (a poison event or a checkpoint of another log)',
            );
          }
          const { failuresInARow } = projector.stats();
          if (failuresInARow >= stuckProjectorFailures && (await s3ConfigsLagSeconds()) > 0) {
            throw new Error(
              `the projection failed ${failuresInARow} times in a row, events waiting`,
            );
          }
        },
      });
      cleanups.push(() => projector.stop());
      cleanups.push(collectUnreferencedKeysHourly(database.pool, eventStore, logger));
    }
    if (roles.has('api')) {
      await registerApiRole(app, {
        settings,
        database,
        eventStore,
        keyring,
        logger,
        onStop: (cleanup) => cleanups.push(cleanup),
      });
    }
    if (roles.has('worker')) {
      if (!masterKey.keypair) {
        throw new SettingsError(
          'invalid setting STOWAGE_SEAL_SECRET_KEY: the worker role opens secrets and needs it',
        );
      }
      if (!settings.KAFKA_BROKERS) {
        throw new SettingsError('invalid setting KAFKA_BROKERS: the worker role needs it');
      }
      // Every upload of an instance whose key this worker cannot open fails: not ready.
      readiness.push({
        name: 'masterKeys',
        check: async () => {
          const missing = [...keyring.unavailableMasterKeys];
          if (missing.length > 0) throw new Error(`master keys not held: ${missing.join(', ')}`);
        },
      });
      const worker = await startMediaUploadWorker({
        settings,
        pool: database.pool,
        connect: database.connect,
        keyring,
        logger,
        metrics: metrics.uploads,
      });
      cleanups.push(() => worker.stop());
      readiness.push({ name: 'worker', check: async () => worker.checkConsumer() });
    }
    // Stored credentials are tested where they can be opened: by workers, and by a development
    // process that made its own key (`npm start` without Kafka has no worker to ask).
    if (masterKey.keypair && (roles.has('worker') || roles.has('api'))) {
      const responder = await startCredentialTestResponder({
        pool: database.pool,
        connect: database.connect,
        mailbox: new PostgresCredentialTestMailbox(database.pool),
        keys: keyring,
        allowPrivateEndpoints: settings.STOWAGE_ALLOW_PRIVATE_ENDPOINTS,
        logger,
      });
      cleanups.push(() => responder.stop());
    }

    const url = await app.listen({ port: settings.PORT, host: settings.HOST });
    cleanups.push(closeApp);
    logger.info({ url, roles: [...roles], eventStore: opened.name }, 'stowage started');
    return { url, app, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
