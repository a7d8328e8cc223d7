import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { ApiError, rateLimitExceeded } from './api-error.ts';

export interface RequestRateLimitOptions {
  /** Requests each caller may make per window; the contract says 100 a minute. */
  max?: number;
  windowMs?: number;
  /** Shares the budget between processes; without it each process counts on its own. */
  redis?: Redis;
  redisKeyPrefix?: string;
}

/**
 * Routes opt in with `config: { rateLimit: {} }` and then get `max` requests per window per
 * caller, answered beyond that with a 429 in the contract's shape and a Retry-After header.
 */
export const requestRateLimit = fp<RequestRateLimitOptions>(
  async (app, { max = 100, windowMs = 60_000, redis, redisKeyPrefix = 'stowage:rate-limit:' }) => {
    await app.register(fastifyRateLimit, {
      global: false,
      max,
      timeWindow: windowMs,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: () => new ApiError(429, rateLimitExceeded),
      // A Redis outage should cost the rate limit, not every request.
      skipOnError: true,
      ...(redis ? { redis, nameSpace: redisKeyPrefix } : {}),
    });
  },
  { name: 'stowage-rate-limit' },
);

/**
 * Each token has its own budget, and requests without one share their address's. The key is a
 * hash of the whole header: the token itself must not become a Redis key, and a token id alone
 * (which is not secret) must not be enough to spend someone else's budget.
 */
export function rateLimitKey(request: Pick<FastifyRequest, 'headers' | 'ip'>): string {
  const token = request.headers.token;
  if (typeof token === 'string' && token !== '') {
    return `token:${createHash('sha256').update(token).digest('base64url')}`;
  }
  return `ip:${request.ip}`;
}
