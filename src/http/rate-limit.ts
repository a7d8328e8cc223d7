import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { presentedToken } from './auth.ts';
import { ApiError } from './error-handler.ts';
import { requestCounts } from './rate-limit-store.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Counts the route's requests against the caller's budget. */
    rateLimit?: true;
  }
}

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
 * Routes opt in with `config: { rateLimit: true }` and then share `max` requests per window per
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
    const counts = requestCounts({
      ...(redis ? { redis } : {}),
      redisKeyPrefix,
      keysInMemory: 100_000,
    });
    // Callback hooks, not async ones: the in-memory count answers synchronously. Counted through
    // @fastify/rate-limit's promise-based handler, the limit took a tenth of a repeat's CPU.
    const countRequest: onRequestHookHandler = (request, reply, done) => {
      counts.incr(
        rateLimitKey(request),
        (error, result) => {
          // A Redis outage should cost the rate limit, not every request.
          if (error || !result) return done();
          const resetSeconds = Math.ceil(result.ttl / 1000);
          reply
            .header('x-ratelimit-limit', max)
            .header('x-ratelimit-remaining', Math.max(0, max - result.current))
            .header('x-ratelimit-reset', resetSeconds);
          if (result.current <= max) return done();
          reply.header('retry-after', resetSeconds);
          done(new ApiError('rate-limited'));
        },
        windowMs,
        max,
      );
    };
    // After the route's own onRequest hooks: a token's budget is counted once it is verified.
    app.addHook('onRoute', (route) => {
      if (!route.config?.rateLimit) return;
      route.onRequest = [route.onRequest ?? [], countRequest].flat();
    });
    app.addHook('onRequest', (request, reply, done) => {
      if (!request.routeOptions.config.rateLimit) return done();
      // Asked first: most requests carry such a token, and need no look at the address's lock.
      const presented = presentedToken(request);
      if (presented && isVerifiedToken(presented.token, presented.digest)) return done();
      counts.read(
        failedAccessKey(request),
        (error, failures) => {
          if (error || !failures || failures.current < max || failures.ttl <= 0) return done();
          reply.header('retry-after', Math.ceil(failures.ttl / 1000));
          done(new ApiError('rate-limited'));
        },
        windowMs,
        max,
      );
    });
    app.addHook('onResponse', (request, reply, done) => {
      if (reply.statusCode !== 401 || !request.routeOptions.config.rateLimit) return done();
      counts.incr(failedAccessKey(request), () => done(), windowMs, max);
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
