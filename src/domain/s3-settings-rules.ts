/** Rules for the fields of an S3 configuration: what S3 and its compatible servers accept. */

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

/**
 * Why an endpoint URL is refused for its shape, or undefined. Where it points is judged apart, by
 * the address policy, when the request is checked and again whenever the worker connects.
 */
export function endpointProblem(endpoint: string): string | undefined {
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
  return undefined;
}

/** The endpoint as stored: the origin, without a trailing slash. */
export function normaliseEndpoint(endpoint: string): string {
  return endpoint === '' ? '' : new URL(endpoint).origin;
}
