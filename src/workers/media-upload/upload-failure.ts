/**
 * A failure the worker understood: its code and reason go into the failed outcome as they are,
 * and `transient` says whether trying again later can help.
 */
export class UploadFailure extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
    readonly transient: boolean,
  ) {
    super(reason);
  }
}
