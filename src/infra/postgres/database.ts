import pg from 'pg';
import type { Settings } from '../../settings.ts';
import type { Logger } from '../logger.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrate } from './migrate.ts';
import { createPool, type Pool } from './pool.ts';

export interface Database {
  url: string;
  pool: Pool;
  /** A connection of its own, for work a pooled one cannot do (LISTEN). */
  connect: () => Promise<pg.Client>;
  /** Ends the pool, then stops the embedded PostgreSQL if this opened one. */
  close: () => Promise<void>;
}

export type DatabaseSettings = Pick<
  Settings,
  'DATABASE_URL' | 'DATABASE_POOL_SIZE' | 'STOWAGE_DATA_DIR' | 'STOWAGE_EMBEDDED_PG_PORT'
>;

export interface OpenDatabaseOptions {
  /**
   * Use an embedded PostgreSQL already running on the data directory (the one of a running
   * `stowage serve`) instead of taking it over; for short-lived commands.
   */
  shareRunningEmbedded?: boolean;
}

/** DATABASE_URL's database, or the embedded one when it is unset; migrated before it is used. */
export async function openDatabase(
  settings: DatabaseSettings,
  logger: Logger,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
  const stops: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const stop of stops.toReversed()) {
      await stop().catch((error: unknown) => logger.warn({ err: error }, 'database close failed'));
    }
  };
  try {
    let url = settings.DATABASE_URL;
    if (!url) {
      const embedded = await startEmbeddedPostgres(
        settings.STOWAGE_DATA_DIR,
        settings.STOWAGE_EMBEDDED_PG_PORT,
        logger,
        { shareRunning: options.shareRunningEmbedded ?? false },
      );
      stops.push(embedded.stop);
      url = embedded.url;
    }
    const pool = createPool(url, settings.DATABASE_POOL_SIZE);
    stops.push(() => pool.end());
    const applied = await migrate(pool);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

    const connectionString = url;
    const connect = async () => {
      // These connections sit idle in LISTEN: keepalive notices a peer that vanished.
      const client = new pg.Client({
        connectionString,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      await client.connect();
      return client;
    };
    return { url, pool, connect, close };
  } catch (error) {
    await close();
    throw error;
  }
}
