import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { BoundedMap } from '../../shared/bounded-map.ts';

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
 * rules) for every URL: several times the CPU of signing. Objects of one bucket differ only in the
 * key's part of the path, so the first URL of each bucket (by region and endpoint: whatever the
 * credentials) is made that way and teaches where the bucket is and under which region and
 * service it signs; later ones are only signed, with the asking client's credentials. A client's
 * signer lives as long as the client (and so never outlives the secret it holds).
 */
export async function presignedGetUrl(
  client: S3Client,
  bucket: string,
  key: string,
  ttlSeconds: number,
  now: Date,
): Promise<PresignedGet> {
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  const where = await bucketAddress(client, bucket);
  const template = templates.get(where);
  if (template) {
    const url = await template.presign(signerOf(client), key, ttlSeconds, now);
    return { url, objectUrl: url.slice(0, url.indexOf('?')), expiresAt };
  }
  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: ttlSeconds,
    signingDate: now,
  });
  const learnt = BucketTemplate.learn(url, key);
  if (learnt) templates.set(where, learnt);
  return { url, objectUrl: url.split('?')[0]!, expiresAt };
}

// A few hundred bytes each: as many buckets as a worker keeps instances' configurations.
const templates = new BoundedMap<string, BucketTemplate>(50_000);
const signers = new WeakMap<S3Client, S3RequestPresigner>();

/** What the SDK's endpoint rules for a bucket depend on that may differ between clients. */
async function bucketAddress(client: S3Client, bucket: string): Promise<string> {
  const { config } = client;
  const endpoint = config.endpoint ? await config.endpoint() : undefined;
  const base = endpoint
    ? `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port ?? ''}${endpoint.path}`
    : '';
  return `${await config.region()} ${base} ${config.forcePathStyle === true} ${bucket}`;
}

function signerOf(client: S3Client): S3RequestPresigner {
  let signer = signers.get(client);
  if (!signer) {
    // Region and service are the bucket's, given with each URL.
    signer = new S3RequestPresigner({ ...client.config });
    signers.set(client, signer);
  }
  return signer;
}

/** Signs GETs of one bucket's objects as getSignedUrl would, without its middleware stack. */
class BucketTemplate {
  private constructor(
    private readonly endpoint: { protocol: string; hostname: string; port?: number },
    /** The path up to the key: the bucket's for path-style addressing, empty otherwise. */
    private readonly basePath: string,
    private readonly scope: { region: string; service: string },
  ) {}

  /** Undefined when the URL is not shaped as expected: that bucket keeps using getSignedUrl. */
  static learn(url: string, key: string): BucketTemplate | undefined {
    const parsed = new URL(url);
    const keyPath = encodeKeyPath(key);
    const credential = parsed.searchParams.get('X-Amz-Credential')?.split('/');
    if (!parsed.pathname.endsWith(keyPath) || credential?.length !== 5) return undefined;
    const [, , region, service] = credential as [string, string, string, string, string];
    return new BucketTemplate(
      {
        protocol: parsed.protocol,
        hostname: parsed.hostname,
        ...(parsed.port === '' ? {} : { port: Number(parsed.port) }),
      },
      parsed.pathname.slice(0, parsed.pathname.length - keyPath.length),
      { region, service },
    );
  }

  async presign(
    signer: S3RequestPresigner,
    key: string,
    ttlSeconds: number,
    now: Date,
  ): Promise<string> {
    const { protocol, hostname, port } = this.endpoint;
    const host = port === undefined ? hostname : `${hostname}:${port}`;
    const signed = await signer.presign(
      {
        method: 'GET',
        protocol,
        hostname,
        ...(port === undefined ? {} : { port }),
        path: this.basePath + encodeKeyPath(key),
        query: { 'x-id': 'GetObject' },
        headers: { host },
      },
      {
        expiresIn: ttlSeconds,
        signingDate: now,
        signingRegion: this.scope.region,
        signingService: this.scope.service,
      },
    );
    return `${protocol}//${host}${signed.path}?${queryString(signed.query ?? {})}`;
  }
}

/** The key as the SDK puts it in a path: '/', then each segment escaped, slashes kept. */
function encodeKeyPath(key: string): string {
  return `/${key.split('/').map(escape).join('/')}`;
}

// The query as the SDK formats a presigned URL: names sorted, names and values escaped.
function queryString(query: Record<string, string | (string | null)[] | null>): string {
  return Object.keys(query)
    .sort()
    .flatMap((name) => {
      const value = query[name];
      const values = Array.isArray(value) ? value : [value];
      return values.map((one) =>
        one === null || one === undefined ? escape(name) : `${escape(name)}=${escape(one)}`,
      );
    })
    .join('&');
}

/** RFC 3986 escaping as the SDK does it: encodeURIComponent, and also !'()*. */
function escape(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
