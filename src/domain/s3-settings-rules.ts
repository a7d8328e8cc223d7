import { isIP } from 'node:net';

/**
 * Rules for the fields of an S3 configuration: what S3 and its compatible servers accept, and
 * what keeps a customer's endpoint from pointing the worker at our own network.
 */

// S3 bucket naming rules (general purpose buckets): 3-63 characters of lowercase letters,
// digits, dots and hyphens, starting and ending with a letter or digit, not shaped like an IP
// address, and without the prefixes and suffixes S3 reserves.
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'may contain only lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit';
  }
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'must not be formatted as an IP address';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return 'uses a prefix reserved by S3';
  if (/(-s3alias|--ol-s3|--x-s3|--table-s3)$/.test(name)) return 'uses a suffix reserved by S3';
  return undefined;
}

// AWS regions look like us-east-1; compatible services use their own (nyc3 on DigitalOcean,
// us-west-004 on Backblaze), so only the shape is checked.
export const regionPattern = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** Keys are printable ASCII without spaces, as every S3 implementation issues them. */
export const credentialPattern = /^[\x21-\x7e]+$/;

export function pathPrefixProblem(prefix: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\x00-\x1f\x7f\\]/.test(prefix)) return 'must not contain control characters or backslashes';
  if (prefix.split('/').some((segment) => segment === '..' || segment === '.')) {
    return 'must not contain "." or ".." segments';
  }
  return undefined;
}

/** No leading '/', single slashes, exactly one trailing '/' when not empty. */
export function normalisePathPrefix(prefix: string): string {
  const segments = prefix.split('/').filter((segment) => segment !== '');
  return segments.length === 0 ? '' : `${segments.join('/')}/`;
}

/**
 * Why a public base URL for media links is refused, or undefined. The service never fetches it
 * (it only prefixes object keys with it in upload outcomes), so any https host will do.
 */
export function publicBaseUrlProblem(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\s\x00-\x1f\x7f\\]/.test(value)) {
    return 'must not contain spaces, control characters or backslashes';
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an https URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    return 'must not contain a query or fragment';
  }
  return undefined;
}

/** As the URL parser writes it (lowercase host, no default port), ending with '/'. */
export function normalisePublicBaseUrl(value: string): string {
  const { href } = new URL(value);
  return href.endsWith('/') ? href : `${href}/`;
}

export interface EndpointPolicy {
  /** Loopback and private ranges; only for tests and for servers on the same private network. */
  allowPrivate: boolean;
}

/**
 * Why an endpoint URL is refused, or undefined. Host names are checked again once resolved, when
 * the worker connects; here only literal addresses can be judged.
 */
export function endpointProblem(endpoint: string, policy: EndpointPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'must be an http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.search || url.hash || endpoint.includes('?') || endpoint.includes('#')) {
    return 'must not contain a query or fragment';
  }
  if (url.pathname !== '/') return 'must not contain a path';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return addressProblem(host, policy);
  if (!policy.allowPrivate && /(^|\.)localhost$/i.test(host)) return 'must not point at this host';
  return undefined;
}

/** The endpoint as stored: the origin, without a trailing slash. */
export function normaliseEndpoint(endpoint: string): string {
  return endpoint === '' ? '' : new URL(endpoint).origin;
}

/**
 * Why connecting to this IP address is refused, or undefined. Link-local and cloud metadata
 * addresses are never allowed: they hand out the credentials of the machine we run on.
 */
export function addressProblem(address: string, policy: EndpointPolicy): string | undefined {
  const ip = address.toLowerCase();
  const v4 = isIP(ip) === 4 ? ip : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip)?.[1];
  if (v4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    if (a === 169 && b === 254) return 'must not point at a link-local or metadata address';
    if (a === 0 || a >= 224) return 'must not point at a reserved address';
    const privateRange =
      a === 127 ||
      a === 10 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127);
    if (privateRange && !policy.allowPrivate) return 'must not point at a private address';
    return undefined;
  }
  if (/^fe[89ab]/.test(ip) || ip === 'fd00:ec2::254') {
    return 'must not point at a link-local or metadata address';
  }
  if (ip === '::' || /^ff/.test(ip)) return 'must not point at a reserved address';
  const privateRange = ip === '::1' || /^f[cd]/.test(ip);
  if (privateRange && !policy.allowPrivate) return 'must not point at a private address';
  return undefined;
}
