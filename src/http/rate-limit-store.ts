import { createRequire } from 'node:module';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';

type CountCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** What the plugin's own stores do; `read` (used for `increment: false`) is not in its types. */
interface CountingStore {
  incr(key: string, done: CountCallback, timeWindow: number, max: number): void;
  read(key: string, done: CountCallback, timeWindow: number, max: number): void;
}

// The plugin's stores, which its package does not export by name: a fixed window per key, in
// this process's memory or in Redis (one atomic script per request).
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache: number,
) => CountingStore;
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => CountingStore;

/**
 * One count per key across every route. The plugin gives each route a store of its own (a new
 * map, or Redis keys prefixed with the route's method and URL), so a caller had a full budget on
 * every route, and again on the HEAD fastify adds for each GET; the contract's limit is global.
 */
export function storeSharedByAllRoutes({
  redis,
  redisKeyPrefix,
  keysInMemory,
}: {
  redis?: Redis;
  redisKeyPrefix: string;
  /** Without Redis: how many callers' counts are kept, least recently seen dropped first. */
  keysInMemory: number;
}): FastifyRateLimitStoreCtor {
  const counts = redis
    ? new RedisStore(false, false, redis, redisKeyPrefix)
    : new LocalStore(false, false, keysInMemory);
  const shared: FastifyRateLimitStore & CountingStore = {
    incr: (key, done, timeWindow, max) => counts.incr(key, done, timeWindow, max),
    read: (key, done, timeWindow, max) => counts.read(key, done, timeWindow, max),
    child: () => shared,
  };
  // The plugin makes its store with `new`; a constructor that returns an object gives that object.
  return function SharedStore() {
    return shared;
  } as unknown as FastifyRateLimitStoreCtor;
}
