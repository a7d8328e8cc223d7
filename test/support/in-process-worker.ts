import { capturedLog } from './captured-log.ts';
import { loadMasterKey } from '../../src/infra/master-keys.ts';
import { PostgresInstanceKeyring } from '../../src/infra/postgres/postgres-instance-keyring.ts';
import { loadSettings } from '../../src/settings.ts';
import {
  startMediaUploadWorker,
  type MediaUploadWorker,
} from '../../src/workers/media-upload/worker.ts';
import type { UploadMetrics } from '../../src/workers/media-upload/upload-metrics.ts';
import type { ConfiguredService } from './configured-service.ts';
import { workerEnv, type WorkerNames } from './kafka.ts';

export interface TestWorker {
  worker: MediaUploadWorker;
  /** Every log line the worker wrote. */
  logs: string[];
}

/** The worker role in this process, over the service's database and the given topics. */
export async function startTestWorker(
  service: ConfiguredService,
  names: WorkerNames,
  env: Record<string, string> = {},
  metrics?: UploadMetrics,
): Promise<TestWorker> {
  const { logger, lines: logs } = capturedLog('info');
  const settings = loadSettings({
    ...workerEnvFor(service, names),
    ...env,
  });
  const { pool, connect } = service.api.database;
  const keyring = new PostgresInstanceKeyring(pool, await loadMasterKey(settings, logger));
  const worker = await startMediaUploadWorker({
    settings,
    pool,
    connect,
    keyring,
    logger,
    ...(metrics ? { metrics } : {}),
  });
  return { worker, logs };
}

/** Everything a worker process over this service needs in its environment. */
export function workerEnvFor(service: ConfiguredService, names: WorkerNames) {
  return {
    DATABASE_URL: service.api.database.url,
    STOWAGE_SEAL_SECRET_KEY: service.sealSecretKey,
    ...workerEnv(names),
  };
}
