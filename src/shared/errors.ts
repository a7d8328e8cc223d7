/**
 * Every error the service raises on purpose says what went wrong in a machine-readable `code`: the
 * HTTP error handler answers by code, and logs name the class.
 */
export type ErrorCode =
  // Answered to the client (src/http/error-handler.ts maps each to the contract).
  | 'invalid-request-body'
  | 'unsupported-charset'
  | 'invalid-token'
  | 'instance-not-found'
  | 'rate-limited'
  | 'secret-required'
  | 'revision-mismatch'
  | 'concurrent-change'
  | 's3-not-enabled'
  | 'no-worker'
  | 'worker-late'
  // Failures of the service itself: a 500 with the route's contract message, cause logged.
  | 'invalid-setting'
  | 'stream-conflict'
  | 'poison-event'
  | 'replay-busy'
  | 'checkpoint-moved'
  | 'checkpoint-of-another-log'
  | 'upload-failed'
  | 'access-change-rejected'
  | 'master-key-unavailable'
  | 'secret-context-mismatch'
  | 'stored-secret-unusable'
  // Shaped like Node's network error codes: it travels through socket lookups and the AWS SDK,
  // whose failures are described by that code.
  | 'ESTOWAGEREFUSED';

export abstract class StowageError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
