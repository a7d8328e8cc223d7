import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';

export type CountCallback = (
  error: Error | null,
  result?: { current: number; ttl: number },
) => void;

/** Fixed windows of requests per key: how many so far, and the milliseconds left. */
export interface RequestCounts {
  incr(key: string, done: CountCallback, timeWindow: number, max: number): void;
  /** The count without adding to it; `{ current: 0, ttl: 0 }` when none is running. */
  read(key: string, done: CountCallback, timeWindow: number, max: number): void;
}

// @fastify/rate-limit's stores, which its package does not export by name: a fixed window per
// key, in this process's memory (answered synchronously) or in Redis (one atomic script).
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache: number,
) => RequestCounts;
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => RequestCounts;

/**
 * One count per key across every route, shared by the processes that share `redis`; the
 * contract's limit is per token, not per route.
 */
export function requestCounts({
  redis,
  redisKeyPrefix,
  keysInMemory,
}: {
  redis?: Redis;
  redisKeyPrefix: string;
  /** Without Redis: how many callers' counts are kept, least recently seen dropped first. */
  keysInMemory: number;
}): RequestCounts {
  return redis
    ? new RedisStore(false, false, redis, redisKeyPrefix)
    : new LocalStore(false, false, keysInMemory);
}
