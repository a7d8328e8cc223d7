import { Redis } from 'ioredis';
import { createUpdateS3ConfigHandler } from '../commands/update-s3-config.handler.ts';
import { updateS3ConfigRoute } from '../commands/update-s3-config.route.ts';
import { accessControl, instanceAccess } from '../http/auth.ts';
import { consoleRoutes } from '../http/console.ts';
import { openApi } from '../http/openapi.ts';
import { requestRateLimit } from '../http/rate-limit.ts';
import { PostgresAccessStore } from '../infra/postgres/access-store.ts';
import { getS3ConfigHistoryRoute } from '../queries/get-s3-config-history.route.ts';
import { getS3ConfigRoute } from '../queries/get-s3-config.route.ts';
import { OwnWrites } from '../queries/own-writes.ts';
import { PostgresProjectionProgress } from '../queries/projection-progress.ts';
import { PostgresS3ConfigViews } from '../queries/s3-config-views.ts';
import { consoleQueryRoutes } from '../queries/console-routes.ts';
import { PostgresInstanceListViews } from '../queries/instance-list-views.ts';
import { PostgresUploadHistoryViews } from '../queries/upload-history-views.ts';
import { testS3ConfigRoute } from '../credential-tests/test-s3-config.route.ts';
import { createGuardedAgents } from '../infra/s3/guarded-agents.ts';
import { PostgresCredentialTestMailbox } from '../infra/postgres/credential-test-mailbox.ts';
import type { App } from '../http/app.ts';
import type { EventStore } from '../event-sourcing/event-store.ts';
import type { EventFeed } from '../event-sourcing/projection/event-feed.ts';
import type { Logger } from '../infra/logger.ts';
import type { Database } from '../infra/postgres/database.ts';
import type { PostgresInstanceKeyring } from '../infra/postgres/postgres-instance-keyring.ts';
import type { Settings } from '../settings.ts';

/**
 * The api role: token auth, rate limits, the command route, the read routes, the console and
 * credential tests, on the app every role serves /health from.
 */
export async function registerApiRole(
  app: App,
  deps: {
    settings: Settings;
    database: Database;
    eventStore: EventStore & EventFeed;
    keyring: PostgresInstanceKeyring;
    logger: Logger;
    /** Registers a step for shutdown; steps run in reverse order. */
    onStop: (cleanup: () => Promise<void>) => void;
  },
): Promise<void> {
  const { settings, database, eventStore, keyring, logger, onStop } = deps;
  const accessStore = new PostgresAccessStore({
    pool: database.pool,
    connect: database.connect,
    logger,
  });
  await accessStore.startListening();
  onStop(() => accessStore.close());

  let redis: Redis | undefined;
  if (settings.REDIS_URL) {
    // Without an offline queue a Redis outage fails fast (and the limiter lets requests
    // through) instead of holding every request until Redis returns.
    redis = new Redis(settings.REDIS_URL, { enableOfflineQueue: false, commandTimeout: 500 });
    // The client retries every few hundred milliseconds while Redis is away: said once, not
    // on each attempt.
    let away = false;
    redis.on('error', (error) => {
      if (away) return;
      away = true;
      logger.warn(
        { err: error },
        'redis unavailable: requests pass the rate limit until it is back',
      );
    });
    redis.on('ready', () => {
      if (away) logger.info('redis available again');
      away = false;
    });
    const client = redis;
    onStop(async () => void client.disconnect());
  }

  await keyring.listen(database.connect, logger);
  onStop(() => keyring.close());

  const access = instanceAccess(accessStore);
  const handle = createUpdateS3ConfigHandler({
    eventStore,
    keyring,
    onKeyShredFailed: (error, keyId) =>
      logger.error(
        { err: error, keyId },
        'shredding the instance key failed; the projection retries',
      ),
  });
  const endpointPolicy = { allowPrivate: settings.STOWAGE_ALLOW_PRIVATE_ENDPOINTS };

  await app.register(openApi);
  await app.register(accessControl);
  await app.register(requestRateLimit, {
    max: settings.STOWAGE_RATE_LIMIT_PER_MINUTE,
    isVerifiedToken: (token, digest) => accessStore.isVerified(token, digest),
    ...(redis ? { redis } : {}),
  });
  const ownWrites = new OwnWrites();
  await app.register(updateS3ConfigRoute({ handle, endpointPolicy, access, ownWrites }));

  const progress = new PostgresProjectionProgress(database.pool, database.connect);
  onStop(() => progress.close());
  await app.register(
    getS3ConfigRoute({
      views: new PostgresS3ConfigViews(database.pool),
      progress,
      access,
      ownWrites,
    }),
  );
  await app.register(getS3ConfigHistoryRoute({ eventStore, access }));
  await app.register(
    consoleQueryRoutes({
      instances: new PostgresInstanceListViews(database.pool),
      uploads: new PostgresUploadHistoryViews(database.pool),
      access,
    }),
  );
  await app.register(consoleRoutes);

  // Credential tests reach customers' endpoints: through the same SSRF guard as the worker.
  const probeAgents = createGuardedAgents({
    allowPrivate: settings.STOWAGE_ALLOW_PRIVATE_ENDPOINTS,
  });
  onStop(async () => probeAgents.destroy());
  await app.register(
    testS3ConfigRoute({
      access,
      endpointPolicy,
      testStored: (instance) => new PostgresCredentialTestMailbox(database.pool).ask(instance),
      // A caller waits for this answer: each of its steps has 10 s, however the endpoint drips.
      connection: { ...probeAgents, timeoutMs: 10_000, exchangeWithinMs: 10_000, maxAttempts: 1 },
    }),
  );
}
