import { capturedLog } from './captured-log.ts';
import { keypairToJson } from '../../src/infra/master-keys.ts';
import { generateKeypair } from '../../src/infra/sealing.ts';
import { PostgresAccessStore } from '../../src/infra/postgres/access-store.ts';
import { startService, type RunningService } from '../../src/serve.ts';
import { loadSettings, type Role } from '../../src/settings.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApi {
  service: RunningService;
  database: TestDatabase;
  access: PostgresAccessStore;
  /** Every log line the service wrote, as text. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * The service as `stowage serve` runs it, on a throwaway database and a free port, with its log
 * captured so tests can look for leaks.
 */
export async function startTestApi(
  env: Record<string, string> = {},
  roles: Role[] = ['api'],
): Promise<TestApi> {
  const database = await createTestDatabase();
  const { logger, lines: logs } = capturedLog('info');
  const settings = loadSettings({
    DATABASE_URL: database.url,
    PORT: '0',
    HOST: '127.0.0.1',
    // As deployed: API processes get the public half only (the worker opens secrets).
    STOWAGE_SEAL_PUBLIC_KEY: keypairToJson(generateKeypair()).publicKey,
    ...env,
  });
  const service = await startService(settings, new Set(roles), logger);
  const access = new PostgresAccessStore({
    pool: database.pool,
    connect: database.connect,
    logger,
  });
  return {
    service,
    database,
    access,
    logs,
    async close() {
      await service.stop();
      await access.close();
      await database.drop();
    },
  };
}
