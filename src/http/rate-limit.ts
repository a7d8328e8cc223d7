import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { presentedToken } from './auth.ts';
import { ApiError } from './error-handler.ts';
import { storeSharedByAllRoutes } from './rate-limit-store.ts';

export interface RequestRateLimitOptions {
  /** Requests each caller may make per window; the contract says 100 a minute. */
  max?: number;
  windowMs?: number;
  /** Shares the budget between processes; without it each process counts on its own. */
  redis?: Redis;
  redisKeyPrefix?: string;
  /**
   * Whether a token was verified before, without a query: its holder passes an address that
   * others sharing it (a NAT, a proxy) have locked by guessing.
   */
  isVerifiedToken?: (token: string, digest: string) => boolean;
}

/**
 * Routes opt in with `config: { rateLimit: {} }` and then share `max` requests per window per
 * caller, answered beyond that with a 429 in the contract's shape and a Retry-After header.
 *
 * A token's budget is counted once the route has verified it. Requests that fail to
 * authenticate (401) are counted per client address instead, and an address that has used up
 * that budget is answered 429 before the route's own hooks run: no token lookup, no database.
 * Until the window ends this holds for every request from the address except those with a token
 * this process has already verified (known without a lookup).
 */
export const requestRateLimit = fp<RequestRateLimitOptions>(
  async (
    app,
    {
      max = 100,
      windowMs = 60_000,
      redis,
      redisKeyPrefix = 'stowage:rate-limit:',
      isVerifiedToken = () => false,
    },
  ) => {
    // Tokens and addresses seen within a window; a few MB at most.
    const keysInMemory = 100_000;
    await app.register(fastifyRateLimit, {
      global: false,
      max,
      timeWindow: windowMs,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: () => new ApiError('rate-limited'),
      // A Redis outage should cost the rate limit, not every request.
      skipOnError: true,
      store: storeSharedByAllRoutes({ ...(redis ? { redis } : {}), redisKeyPrefix, keysInMemory }),
    });
    const failedAccess = app.createRateLimit({ keyGenerator: failedAccessKey });
    app.addHook('onRequest', async (request, reply) => {
      if (!request.routeOptions.config.rateLimit) return;
      // Asked first: most requests carry such a token, and need no look at the address's lock.
      const presented = presentedToken(request);
      if (presented && isVerifiedToken(presented.token, presented.digest)) return;
      const failures = await failedAccess(request, { increment: false });
      if (!failures.isAllowed && failures.remaining === 0 && failures.ttl > 0) {
        reply.header('retry-after', failures.ttlInSeconds);
        throw new ApiError('rate-limited');
      }
    });
    app.addHook('onResponse', async (request, reply) => {
      if (reply.statusCode === 401 && request.routeOptions.config.rateLimit) {
        await failedAccess(request);
      }
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
  const presented = presentedToken(request);
  return presented ? `token:${presented.digest}` : `ip:${request.ip}`;
}

const plainIpv4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Failed authentications are counted per address; an IPv6 client holds a whole /64 and could
 * otherwise take a fresh budget with every address in it.
 */
export function failedAccessKey(request: Pick<FastifyRequest, 'ip'>): string {
  // The common case, spelt one way only, without parsing it on every request.
  if (plainIpv4.test(request.ip)) return `failed-access:${request.ip}`;
  if (!ipaddr.isValid(request.ip)) return `failed-access:${request.ip}`;
  const address = ipaddr.process(request.ip);
  if (address.kind() === 'ipv4') return `failed-access:${address.toString()}`;
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/64`);
  return `failed-access:${network.toString()}/64`;
}
