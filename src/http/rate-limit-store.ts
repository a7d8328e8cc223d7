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

// @fastify/rate-limit's Redis store, which its package does not export by name: a fixed window
// per key, counted by one atomic script.
const require = createRequire(import.meta.url);
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
  /** Without Redis: how many callers' windows are kept, the oldest dropped first. */
  keysInMemory: number;
}): RequestCounts {
  return redis
    ? new RedisStore(false, false, redis, redisKeyPrefix)
    : new WindowsInMemory(keysInMemory);
}

/**
 * Fixed windows in this process's memory, answered synchronously. When full, the window opened
 * longest ago goes first: a Map keeps the order windows opened in, so a count costs one lookup
 * (the plugin's store kept a least-recently-used order, two reorderings per request).
 */
export class WindowsInMemory implements RequestCounts {
  private readonly windows = new Map<string, { count: number; openedAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  incr(key: string, done: CountCallback, timeWindow: number): void {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.openedAt + timeWindow <= now) {
      this.windows.delete(key);
      window = { count: 0, openedAt: now };
      this.windows.set(key, window);
      if (this.windows.size > this.limit) this.windows.delete(this.windows.keys().next().value!);
    }
    window.count++;
    done(null, { current: window.count, ttl: window.openedAt + timeWindow - now });
  }

  read(key: string, done: CountCallback, timeWindow: number): void {
    const now = this.now();
    const window = this.windows.get(key);
    if (!window || window.openedAt + timeWindow <= now) return done(null, { current: 0, ttl: 0 });
    done(null, { current: window.count, ttl: window.openedAt + timeWindow - now });
  }
}
