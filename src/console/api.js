// The public HTTP API, with the signed-in token. The token lives in sessionStorage only: never a
// cookie (nothing sends it by itself) and never the URL (nothing logs or shares it).
const tokenKey = 'stowage.token';

export const session = {
  token: () => sessionStorage.getItem(tokenKey),
  signIn: (token) => sessionStorage.setItem(tokenKey, token),
  signOut: () => sessionStorage.removeItem(tokenKey),
};

/** An answer in the contract's error shape: its message and, for a 400, the fields at fault. */
export class ApiFailureError extends Error {
  constructor(status, message, details) {
    super(message);
    this.name = 'ApiFailureError';
    this.status = status;
    this.details = details ?? [];
  }
}

export async function call(method, path, body) {
  const headers = { token: session.token() ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiFailureError(
      0,
      'The service cannot be reached. Check the connection and try again.',
    );
  }
  const json = await response.json().catch(() => null);
  if (!response.ok || json?.success !== true) {
    const error = json?.error;
    throw new ApiFailureError(
      response.status,
      error?.message ?? `HTTP ${response.status}`,
      error?.details,
    );
  }
  return { json, headers: response.headers };
}

export const instancePath = (instance) => `/api/instance/s3/${encodeURIComponent(instance)}`;

/** Every page of a paginated list (the history route, the instance list). */
export async function allPages(path, itemsOf) {
  const items = [];
  let after = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const query = after === null ? '' : `&after=${encodeURIComponent(after)}`;
    const { json } = await call('GET', `${path}${separator}limit=500${query}`);
    items.push(...itemsOf(json));
    after = json.nextAfter;
  } while (after !== null);
  return items;
}
