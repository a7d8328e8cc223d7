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
  /** Answered requests (any status). */
  requests: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs per answered request: the server process's, and PostgreSQL's backends'. */
  serverCpu?: number;
  databaseCpu?: number;
}

// Every change in a run gets a path prefix never sent before, whichever load sends it.
let changes = 0;

export function s3ConfigBody(n: number, mode: LoadMode): string {
  return JSON.stringify({
    enabled: true,
    region: 'us-east-1',
    bucket: `bucket-${n % 100}`,
    accessKey: 'AKIABENCHMARK',
    secretKey: `secret-of-instance-${n}`,
    endpoint: '',
    pathPrefix: mode === 'change' ? `media/${++changes}/` : 'media/',
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
            body: s3ConfigBody(bodyIndex(n), mode),
          };
        },
      },
    ],
  });
  const answered = Math.max(1, result.requests.total);
  return {
    rate: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors,
    ...(target.pid ? { serverCpu: (processCpuMicros(target.pid) - serverBefore) / answered } : {}),
    ...(backends && backendsBefore
      ? { databaseCpu: (await backends.since(backendsBefore)) / answered }
      : {}),
  };
}

/** Two halves of one load: rates and CPU per request over both, latencies the worse half's. */
export function combined(first: LoadResult, second: LoadResult): LoadResult {
  const requests = first.requests + second.requests;
  const perRequest = (key: 'serverCpu' | 'databaseCpu') =>
    first[key] === undefined || second[key] === undefined
      ? {}
      : { [key]: (first[key] * first.requests + second[key] * second.requests) / requests };
  return {
    rate: (first.rate + second.rate) / 2,
    requests,
    p50: Math.max(first.p50, second.p50),
    p99: Math.max(first.p99, second.p99),
    errors: first.errors + second.errors,
    ...perRequest('serverCpu'),
    ...perRequest('databaseCpu'),
  };
}
