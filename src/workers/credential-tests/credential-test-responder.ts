import type pg from 'pg';
import type { Logger } from '../../infra/logger.ts';
import { ChannelListener } from '../../infra/postgres/channel-listener.ts';
import {
  credentialTestChannel,
  type PostgresCredentialTestMailbox,
  type WorkerAnswer,
} from '../../infra/postgres/credential-test-mailbox.ts';
import type { Pool } from '../../infra/postgres/pool.ts';
import { probeBucket } from '../../infra/s3/bucket-probe.ts';
import { createGuardedAgents } from '../../infra/s3/guarded-agents.ts';
import { createS3Client, type S3Connection } from '../../infra/s3/s3-client.ts';
import { storedS3Targets, type InstanceKeyOpener } from '../../infra/s3/stored-s3-config.ts';

export interface CredentialTestResponderDeps {
  pool: Pool;
  /** A dedicated connection for LISTEN. */
  connect: () => Promise<pg.Client>;
  mailbox: PostgresCredentialTestMailbox;
  /** Must hold the master key's private half. */
  keys: InstanceKeyOpener;
  /** Whether customer endpoints may be private addresses (STOWAGE_ALLOW_PRIVATE_ENDPOINTS). */
  allowPrivateEndpoints: boolean;
  logger: Logger;
}

// Notifications sent while the listener reconnects are lost: a sweep this often finds those.
const sweepEveryMs = 2_000;
const sweepsPerCleanup = 900;
// Tests running at once in one worker: a slow customer endpoint must not hold up the others.
const maxInFlight = 4;

/** Answers API processes' requests to test stored credentials (the worker side of the mailbox). */
export async function startCredentialTestResponder(
  deps: CredentialTestResponderDeps,
): Promise<{ stop(): Promise<void> }> {
  const log = deps.logger.child({ component: 'credential-test-responder' });
  const storedTarget = storedS3Targets(deps.pool, deps.keys);
  // SSRF-guarded, like uploads; a short timeout and one attempt per step, so that all three
  // steps are answered while the API still waits.
  const agents = createGuardedAgents({ allowPrivate: deps.allowPrivateEndpoints });
  const connection: S3Connection = {
    ...agents,
    timeoutMs: 4_000,
    exchangeWithinMs: 4_000,
    maxAttempts: 1,
  };
  const running = new Set<Promise<void>>();
  let draining = false;
  let stopped = false;

  const answer = async (request: { id: string; instance: string }): Promise<WorkerAnswer> => {
    try {
      const target = await storedTarget(request.instance);
      if (!target) return { outcome: 'notEnabled' };
      const client = createS3Client(target.location, connection);
      const steps = await probeBucket(client, target.bucket, target.pathPrefix);
      return { outcome: 'tested', bucket: target.bucket, steps };
    } catch (error) {
      log.error({ err: error, instance: request.instance }, 'testing stored credentials failed');
      return { outcome: 'failed' };
    }
  };

  // Never rejects (its failures are logged here), so it is started with `void`.
  const drain = async () => {
    if (draining || stopped) return;
    draining = true;
    try {
      while (!stopped && running.size < maxInFlight) {
        const request = await deps.mailbox.claim();
        if (!request) break;
        const work = answer(request)
          .then((result) => deps.mailbox.answer(request.id, result))
          .catch((error: unknown) => log.warn({ err: error }, 'answering a credential test failed'))
          .finally(() => {
            running.delete(work);
            void drain();
          });
        running.add(work);
      }
    } catch (error) {
      log.warn({ err: error }, 'claiming credential tests failed; retrying');
    } finally {
      draining = false;
    }
  };

  const listener = new ChannelListener({
    connect: deps.connect,
    channel: credentialTestChannel,
    what: 'credential test',
    logger: log,
    onNotification: () => void drain(),
    onLost: () => {},
  });
  await listener.start();
  const removeAbandoned = () =>
    deps.mailbox
      .removeAbandoned()
      .catch((error: unknown) => log.warn({ err: error }, 'removing old credential tests failed'));
  let sweeps = 0;
  const sweep = setInterval(() => {
    void drain();
    if (++sweeps % sweepsPerCleanup === 0) void removeAbandoned();
  }, sweepEveryMs);
  sweep.unref();
  void removeAbandoned();
  void drain();

  return {
    async stop() {
      stopped = true;
      clearInterval(sweep);
      await listener.close();
      await Promise.allSettled(running);
      agents.destroy();
    },
  };
}
