import pg from 'pg';
import type { EventStore } from './commands/event-store.ts';
import { buildApp } from './http/app.ts';
import type { ReadinessCheck } from './http/health.ts';
import { PostgresEventStore } from './infra/event-store/postgres-event-store.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { loadMasterKey } from './infra/master-keys.ts';
import { startEmbeddedPostgres } from './infra/postgres/embedded.ts';
import { migrate } from './infra/postgres/migrate.ts';
import { createPool } from './infra/postgres/pool.ts';
import type { Role, Settings } from './settings.ts';

export interface RunningService {
  /** Where the HTTP server listens, e.g. http://127.0.0.1:8080. */
  url: string;
  stop(): Promise<void>;
}

/** Runs until SIGTERM or SIGINT, then shuts down in order. */
export async function serve(settings: Settings, roles: ReadonlySet<Role>): Promise<void> {
  const logger = createLogger(settings.LOG_LEVEL);
  const service = await startService(settings, roles, logger);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down');
  await service.stop();
}

export async function startService(
  settings: Settings,
  roles: ReadonlySet<Role>,
  logger: Logger,
): Promise<RunningService> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => logger.warn({ err: error }, 'shutdown step failed'));
    }
  };
  try {
    let databaseUrl = settings.DATABASE_URL;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres(
        settings.STOWAGE_DATA_DIR,
        settings.STOWAGE_EMBEDDED_PG_PORT,
        logger,
      );
      cleanups.push(embedded.stop);
      databaseUrl = embedded.url;
    }
    const pool = createPool(databaseUrl, settings.DATABASE_POOL_SIZE);
    cleanups.push(() => pool.end());
    const applied = await migrate(pool);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

    const connect = async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    };
    const eventStore: EventStore & { name: string } = Object.assign(
      new PostgresEventStore(pool, connect),
      { name: 'postgres' },
    );
    await loadMasterKey(settings, logger);

    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => void (await pool.query('SELECT 1')) },
      { name: 'eventStore', check: async () => void (await eventStore.readStream('$ping')) },
    ];
    const app = buildApp({ logger, readiness });
    cleanups.push(() => app.close());
    const url = await app.listen({ port: settings.PORT, host: settings.HOST });
    logger.info({ url, roles: [...roles], eventStore: eventStore.name }, 'stowage started');
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
