import type { ProbeStep } from '../infra/s3/bucket-probe.ts';

/**
 * The answer to "test this instance's stored credentials". API processes cannot open stored
 * secrets, so a worker runs the probe; the API only waits for it.
 */
export type StoredTestAnswer =
  | { outcome: 'tested'; bucket: string; steps: ProbeStep[] }
  /** Storage is not enabled (or was disabled since): nothing stored to test. */
  | { outcome: 'notEnabled' }
  /** The worker could not run the probe; the cause is in its log. */
  | { outcome: 'failed' }
  /** No worker took the request in time. */
  | { outcome: 'noWorker' }
  /** A worker took it but did not answer in time. */
  | { outcome: 'late' };
