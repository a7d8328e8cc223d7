import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import {
  escapeUri,
  knownBucketAddress,
  learnBucketAddress,
  type BucketAddress,
} from './bucket-address.ts';
import { perClient } from './per-client.ts';

export interface PresignedGet {
  url: string;
  /** The same URL without the signature. */
  objectUrl: string;
  expiresAt: Date;
}

/**
 * A GET URL for one object that works without credentials until it expires, and the object's
 * plain URL (the same without the signature).
 *
 * getSignedUrl runs the whole GetObject middleware stack (a clone of it, serialization, endpoint
 * rules) for every URL: several times the CPU of signing. The first URL of each bucket is made
 * that way and teaches its address (BucketAddress); later ones are only signed, with the asking
 * client's credentials. A client's signer lives as long as the client (and so never outlives the
 * secret it holds).
 */
export async function presignedGetUrl(
  client: S3Client,
  bucket: string,
  key: string,
  ttlSeconds: number,
  now: Date,
): Promise<PresignedGet> {
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  const { where, address } = await knownBucketAddress(client, bucket);
  if (address) {
    const url = await presignAt(address, signerOf(client), key, ttlSeconds, now);
    return { url, objectUrl: url.slice(0, url.indexOf('?')), expiresAt };
  }
  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: ttlSeconds,
    signingDate: now,
  });
  learnBucketAddress(where, url, key);
  return { url, objectUrl: url.split('?')[0]!, expiresAt };
}

// Region and service are the bucket's, given with each URL.
const signerOf = perClient((client) => new S3RequestPresigner({ ...client.config }));

/** Signs a GET of one of the bucket's objects as getSignedUrl would, without its middleware stack. */
async function presignAt(
  address: BucketAddress,
  signer: S3RequestPresigner,
  key: string,
  ttlSeconds: number,
  now: Date,
): Promise<string> {
  const { protocol, hostname, port } = address.endpoint;
  const host = address.host;
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol,
      hostname,
      ...(port === undefined ? {} : { port }),
      path: address.pathOf(key),
      query: { 'x-id': 'GetObject' },
      headers: { host },
    },
    {
      expiresIn: ttlSeconds,
      signingDate: now,
      signingRegion: address.scope.region,
      signingService: address.scope.service,
    },
  );
  return `${protocol}//${host}${signed.path}?${queryString(signed.query ?? {})}`;
}

// The query as the SDK formats a presigned URL: names sorted, names and values escaped.
function queryString(query: Record<string, string | (string | null)[] | null>): string {
  return Object.keys(query)
    .sort()
    .flatMap((name) => {
      const value = query[name];
      const values = Array.isArray(value) ? value : [value];
      return values.map((one) =>
        one === null || one === undefined
          ? escapeUri(name)
          : `${escapeUri(name)}=${escapeUri(one)}`,
      );
    })
    .join('&');
}
