/**
 * What went wrong talking to S3 (or reaching it), said for the person who owns the bucket, and
 * whether trying again later can help. Built from error codes and HTTP statuses only: a server's
 * own error text may echo request details, and an arbitrary error's message may hold anything.
 */
export interface S3Failure {
  /** Machine-readable: the S3 error code, the network error code, or one of ours. */
  code: string;
  reason: string;
  transient: boolean;
}

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  problem?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const permanentCodes: Record<string, string> = {
  SignatureDoesNotMatch:
    'S3 rejected the request signature: the secret key does not match the access key',
  InvalidAccessKeyId: 'S3 does not know the access key',
  AccessDenied: 'S3 denied access: the access key may not write to this bucket',
  InvalidToken: 'S3 rejected the credentials',
  ExpiredToken: 'S3 rejected the credentials as expired',
  NoSuchBucket: 'the bucket does not exist',
  InvalidBucketName: 'S3 does not accept the bucket name',
  PermanentRedirect: 'the bucket is in another region than the one configured',
  AuthorizationHeaderMalformed: 'the bucket is in another region than the one configured',
  IllegalLocationConstraintException: 'the bucket is in another region than the one configured',
  AccountProblem: 'S3 reports a problem with the account',
  ENOTFOUND: "the endpoint's host name does not resolve",
  ERR_TLS_CERT_ALTNAME_INVALID: "the endpoint's TLS certificate does not match its host name",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the endpoint's TLS certificate is not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "the endpoint's TLS certificate is not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the endpoint's TLS certificate is not trusted",
  CERT_HAS_EXPIRED: "the endpoint's TLS certificate has expired",
  ERESPONSETOOLARGE: 'the endpoint answered with more than an S3 server ever sends',
};

// HEAD responses have no body, so the SDK can only name the status.
const bodilessStatuses: Record<number, string> = {
  301: 'PermanentRedirect',
  400: 'BadRequest',
  403: 'AccessDenied',
  404: 'NoSuchBucket',
};

const transientCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'RequestTimeTooSkewed',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalError',
  'OperationAborted',
]);

// Transient failures that say more than "unavailable or overloaded".
const transientReasons: Record<string, string> = {
  // An answer trickling in: slow or hostile, it may be faster next time.
  ERESPONSETOOSLOW: "the endpoint's answer did not arrive in time",
};

/** Every code the failures above are known by; a server may answer any other. */
export const knownS3FailureCodes: ReadonlySet<string> = new Set([
  'ESTOWAGEREFUSED',
  ...Object.keys(permanentCodes),
  ...Object.values(bodilessStatuses),
  ...transientCodes,
  ...Object.keys(transientReasons),
]);

export function describeS3Failure(error: unknown): S3Failure {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const status =
    typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : 0;
  const code = errorCode(shape, status);
  const at = status ? ` (${code}, HTTP ${status})` : ` (${code})`;

  if (code === 'ESTOWAGEREFUSED') {
    const problem = typeof shape.problem === 'string' ? shape.problem : 'is not allowed';
    return { code, reason: `the endpoint is refused: its address ${problem}`, transient: false };
  }
  const known = permanentCodes[code];
  if (known) return { code, reason: known + at, transient: false };
  const transientReason = transientReasons[code];
  if (transientReason) return { code, reason: transientReason + at, transient: true };
  if (transientCodes.has(code) || status >= 500 || status === 429 || status === 408) {
    return { code, reason: `S3 is unavailable or overloaded${at}`, transient: true };
  }
  if (status >= 400) return { code, reason: `S3 refused the request${at}`, transient: false };
  // Anything else (a driver bug, an unexpected exception) is retried within the time bound
  // rather than failing uploads that may well succeed.
  return { code, reason: `unexpected error${at}`, transient: true };
}

function errorCode(shape: ErrorShape, status: number): string {
  if (typeof shape.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(shape.code)) return shape.code;
  const name = typeof shape.name === 'string' ? shape.name : '';
  if (/^(Unknown|NotFound|Forbidden|BadRequest|MovedPermanently)$/.test(name) || !name) {
    return bodilessStatuses[status] ?? (name || 'Error');
  }
  return name.replace(/[^\w.-]/g, '').slice(0, 64) || 'Error';
}
