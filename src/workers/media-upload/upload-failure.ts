import type { S3Failure } from '../../infra/s3/s3-failure.ts';
import { StowageError } from '../../shared/errors.ts';

/**
 * A failure the worker understood: its description goes into the failed outcome as it is, and
 * `transient` says whether trying again later can help.
 */
export class UploadFailedError extends StowageError {
  readonly failure: S3Failure;

  constructor(code: string, reason: string, transient: boolean) {
    super('upload-failed', reason);
    this.failure = { code, reason, transient };
  }
}
