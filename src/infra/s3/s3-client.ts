import type http from 'node:http';
import type https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { BoundedHttpHandler } from './bounded-http-handler.ts';

export interface S3Location {
  region: string;
  /** Empty for AWS itself; the URL of an S3-compatible server otherwise. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * How to reach the server: agents that may vet the address, and when to give up waiting. The
 * agents may be shared by many clients, so a client made with them must not be destroy()ed (that
 * destroys its agents).
 */
export interface S3Connection {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
  /** For connecting, and for a socket that stays silent. */
  timeoutMs: number;
  /** For a whole exchange, the request's body sent and the answer received. */
  exchangeWithinMs: number;
  /** Tries per request, the SDK's own retries included (its default is 3). */
  maxAttempts?: number;
  /** Aborting it abandons the exchanges in flight, parts excepted: a worker's shutdown. */
  abandonOn?: AbortSignal;
}

/**
 * An S3 client that also works against S3-compatible servers (MinIO, Backblaze B2, DO Spaces,
 * S3Proxy): path-style addressing when an endpoint is set, since their buckets are rarely
 * resolvable as subdomains, and checksums only where the API requires them, since many such
 * servers reject the SDK's newer default x-amz-checksum-* headers. Made with a connection, as
 * this service makes every client, to a customer's endpoint that may be anyone's, it holds each
 * exchange to the connection's limits (BoundedHttpHandler); made without, as tests and tools
 * make one to read objects back, it does not.
 */
export function createS3Client(location: S3Location, connection?: S3Connection): S3Client {
  return new S3Client({
    region: location.region,
    ...(location.endpoint ? { endpoint: location.endpoint, forcePathStyle: true } : {}),
    credentials: {
      accessKeyId: location.accessKeyId,
      secretAccessKey: location.secretAccessKey,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The middleware stack is resolved once per command type, not on every send (a fifth of a
    // 10 KiB PutObject's CPU, bench/README.md). The SDK uses it only for sends without options:
    // this service passes none (an abort comes from the connection's abandonOn).
    cacheMiddleware: true,
    ...(connection?.maxAttempts ? { maxAttempts: connection.maxAttempts } : {}),
    ...(connection
      ? {
          requestHandler: new BoundedHttpHandler(
            {
              httpAgent: connection.httpAgent,
              httpsAgent: connection.httpsAgent,
              connectionTimeout: connection.timeoutMs,
              socketTimeout: connection.timeoutMs,
            },
            {
              exchangeWithinMs: connection.exchangeWithinMs,
              answerMaxBytes,
              abandonOn: connection.abandonOn,
            },
          ),
        }
      : {}),
  });
}

// S3's answers to puts, parts, heads and deletes are a few hundred bytes of XML.
const answerMaxBytes = 1024 * 1024;
