import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { UploadFailedError } from './upload-failure.ts';

/** How the worker reaches media URLs: the SSRF-guarded agents, and when to stop waiting. */
export interface SourceConnection {
  httpAgent: http.Agent;
  httpsAgent: https.Agent;
  timeoutMs: number;
}

const maxRedirects = 5;

/**
 * The media at a URL, as a stream. Fetched with node:http(s) rather than fetch(): its agents
 * carry the SSRF guard's DNS lookup (fetch's undici would need its own dispatcher package), and
 * the response is a Node stream with backpressure all the way to the upload.
 */
export async function openMediaUrl(
  location: string,
  connection: SourceConnection,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  let url = new URL(location);
  for (let redirects = 0; ; redirects++) {
    const response = await get(url, connection, signal);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    response.resume();
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location && redirects < maxRedirects) {
      url = redirectTarget(location, url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new UploadFailedError(
          'source-rejected',
          'the media URL redirects to a non-HTTP URL',
          false,
        );
      }
      continue;
    }
    throw new UploadFailedError(
      'source-rejected',
      `the media URL answered HTTP ${status}`,
      status >= 500 || status === 408 || status === 429,
    );
  }
}

/** Where a redirect leads; a location no URL parser takes (an IPv6 zone id, say) ends it. */
function redirectTarget(location: string, from: URL): URL {
  try {
    return new URL(location, from);
  } catch {
    throw new UploadFailedError(
      'source-rejected',
      'the media URL redirects to an invalid URL',
      false,
    );
  }
}

function get(
  url: URL,
  connection: SourceConnection,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).get(
      url,
      {
        agent: secure ? connection.httpsAgent : connection.httpAgent,
        signal,
        timeout: connection.timeoutMs,
        headers: { 'accept-encoding': 'identity' },
      },
      resolve,
    );
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error('media URL timed out'), { code: 'ETIMEDOUT' })),
    );
    request.on('error', (error) => reject(signal.aborted ? error : sourceFailure(error)));
  });
}

const permanentNetworkCodes = new Set([
  'ENOTFOUND',
  'ESTOWAGEREFUSED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
]);

/** A network error while fetching or reading the media, said as such (not as an S3 failure). */
export function sourceFailure(error: unknown): UploadFailedError {
  if (error instanceof UploadFailedError) return error;
  const { code, problem } = error as { code?: unknown; problem?: unknown };
  const name = typeof code === 'string' ? code : 'network error';
  if (name === 'ESTOWAGEREFUSED') {
    return new UploadFailedError(
      'source-refused',
      `the media URL is refused: its address ${String(problem)}`,
      false,
    );
  }
  return new UploadFailedError(
    'source-unavailable',
    `the media URL could not be read (${name})`,
    !permanentNetworkCodes.has(name),
  );
}
