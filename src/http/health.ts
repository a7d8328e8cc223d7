import type { FastifyInstance } from 'fastify';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/**
 * How long one readiness check may take. A dependency that accepts connections and never answers
 * would otherwise hold /health/ready until the orchestrator's own probe timeout, which reports
 * nothing about which dependency stalled.
 */
const readinessDeadlineMs = 2000;

/** Liveness says the process answers; readiness says its database and event store answer too. */
export function healthRoutes(checks: readonly ReadinessCheck[]) {
  return async (app: FastifyInstance) => {
    app.get('/health/live', { logLevel: 'warn' }, async () => ({ status: 'ok' }));

    app.get('/health/ready', { logLevel: 'warn' }, async (request, reply) => {
      const results = await Promise.all(
        checks.map(async ({ name, check }) => {
          try {
            await withDeadline(check(), readinessDeadlineMs, name);
            return [name, 'ok'] as const;
          } catch (error) {
            request.log.warn({ err: error, check: name }, 'readiness check failed');
            return [name, 'unavailable'] as const;
          }
        }),
      );
      const ready = results.every(([, status]) => status === 'ok');
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results) });
    });
  };
}

async function withDeadline(work: Promise<void>, ms: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms);
  });
  // A check that fails after the deadline has nobody left to tell.
  // eslint-disable-next-line no-restricted-syntax -- its timeout was reported already
  work.catch(() => {});
  try {
    await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
