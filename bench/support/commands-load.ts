import autocannon from 'autocannon';
import type { BackendCpu } from './pg-backends.ts';
import { processCpuMicros } from './yardstick.ts';

export interface BenchInstance {
  instance: string;
  token: string;
}

/** 'repeat' sends each instance's stored configuration again; 'change' a new path prefix each time. */
export type LoadMode = 'repeat' | 'change';

export interface LoadResult {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs per answered request: the server process's, and PostgreSQL's backends'. */
  serverCpu?: number;
  databaseCpu?: number;
}

export function s3ConfigBody(n: number, counter: number, mode: LoadMode): string {
  return JSON.stringify({
    enabled: true,
    region: 'us-east-1',
    bucket: `bucket-${n % 100}`,
    accessKey: 'AKIABENCHMARK',
    secretKey: `secret-of-instance-${n}`,
    endpoint: '',
    pathPrefix: mode === 'change' ? `media/${counter}/` : 'media/',
  });
}

/**
 * POSTs to the instances in turn from `connections` connections, for `duration` seconds or
 * `amount` requests, measuring the CPU the server process and the database's backends use.
 */
export async function loadPosts(
  target: { url: string; pid?: number },
  instances: readonly BenchInstance[],
  mode: LoadMode,
  {
    connections,
    duration,
    amount,
    backends,
    bodyIndex = (n) => n,
  }: {
    connections: number;
    duration?: number;
    amount?: number;
    backends?: BackendCpu;
    /** Which instance's secret a body carries (clones share their source's). */
    bodyIndex?: (n: number) => number;
  },
): Promise<LoadResult> {
  let counter = 0;
  const serverBefore = target.pid ? processCpuMicros(target.pid) : 0;
  const backendsBefore = await backends?.snapshot();
  const result = await autocannon({
    url: target.url,
    connections,
    ...(amount ? { amount } : { duration: duration ?? 10 }),
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const n = counter++ % instances.length;
          const { instance, token } = instances[n]!;
          return {
            ...request,
            path: `/api/instance/s3/${instance}`,
            headers: { 'content-type': 'application/json', token },
            body: s3ConfigBody(bodyIndex(n), counter, mode),
          };
        },
      },
    ],
  });
  const answered = Math.max(1, result.requests.total);
  return {
    rate: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
    ...(target.pid ? { serverCpu: (processCpuMicros(target.pid) - serverBefore) / answered } : {}),
    ...(backends && backendsBefore
      ? { databaseCpu: (await backends.since(backendsBefore)) / answered }
      : {}),
  };
}
