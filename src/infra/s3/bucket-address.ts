import type { S3Client } from '@aws-sdk/client-s3';
import { BoundedMap } from '../../shared/bounded-map.ts';

/**
 * Where one bucket's objects are and how requests to them are signed, as the SDK's endpoint rules
 * put it: learnt from a URL the SDK made for one of its objects. Objects of one bucket differ only
 * in the key's part of the path, so what the rules decided for one holds for every other.
 */
export class BucketAddress {
  private constructor(
    readonly endpoint: { protocol: string; hostname: string; port?: number },
    /** The path up to the key: the bucket's for path-style addressing, empty otherwise. */
    private readonly basePath: string,
    readonly scope: { region: string; service: string },
  ) {}

  /** Undefined when the URL is not shaped as expected: that bucket stays with the SDK. */
  static learn(url: string, key: string): BucketAddress | undefined {
    const parsed = new URL(url);
    const keyPath = encodeKeyPath(key);
    const credential = parsed.searchParams.get('X-Amz-Credential')?.split('/');
    if (!parsed.pathname.endsWith(keyPath) || credential?.length !== 5) return undefined;
    const [, , region, service] = credential as [string, string, string, string, string];
    return new BucketAddress(
      {
        protocol: parsed.protocol,
        hostname: parsed.hostname,
        ...(parsed.port === '' ? {} : { port: Number(parsed.port) }),
      },
      parsed.pathname.slice(0, parsed.pathname.length - keyPath.length),
      { region, service },
    );
  }

  /** The Host header: the host name, and the port when the URL names one. */
  get host(): string {
    const { hostname, port } = this.endpoint;
    return port === undefined ? hostname : `${hostname}:${port}`;
  }

  pathOf(key: string): string {
    return this.basePath + encodeKeyPath(key);
  }
}

// A few hundred bytes each: as many buckets as a worker keeps instances' configurations.
const learnt = new BoundedMap<string, BucketAddress>(50_000);

/**
 * The bucket's address if one was learnt for the same region, endpoint and addressing style
 * (whatever the credentials), and the name it is known by.
 */
export async function knownBucketAddress(
  client: S3Client,
  bucket: string,
): Promise<{ where: string; address: BucketAddress | undefined }> {
  const { config } = client;
  const endpoint = config.endpoint ? await config.endpoint() : undefined;
  const base = endpoint
    ? `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port ?? ''}${endpoint.path}`
    : '';
  const where = `${await config.region()} ${base} ${config.forcePathStyle === true} ${bucket}`;
  return { where, address: learnt.get(where) };
}

/** Learns the address of the bucket known as `where` from a URL the SDK made for `key`. */
export function learnBucketAddress(
  where: string,
  url: string,
  key: string,
): BucketAddress | undefined {
  const address = BucketAddress.learn(url, key);
  if (address) learnt.set(where, address);
  return address;
}

/** The key as the SDK puts it in a path: '/', then each segment escaped, slashes kept. */
function encodeKeyPath(key: string): string {
  return `/${key.split('/').map(escapeUri).join('/')}`;
}

/** RFC 3986 escaping as the SDK does it: encodeURIComponent, and also !'()*. */
export function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
