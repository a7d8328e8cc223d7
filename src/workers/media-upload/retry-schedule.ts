/**
 * When to try a message again after a transient failure: exponential backoff with jitter, until
 * the time since its first failure would pass the bound.
 */
export interface RetryPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** From the first failure; past it the message fails with `retryable: true`. */
  maxElapsedMs: number;
}

export interface FailureHistory {
  firstFailureAt: number;
  failures: number;
}

export type NextStep = { retryInMs: number } | { giveUp: true };

export function nextStep(
  history: FailureHistory,
  now: number,
  policy: RetryPolicy,
  random: () => number,
): NextStep {
  const ceiling = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (history.failures - 1));
  // Half fixed, half random: never sooner than half the backoff, and workers that failed together
  // (one S3 outage) do not all come back at the same moment.
  const delay = Math.round(ceiling / 2 + (random() * ceiling) / 2);
  if (now - history.firstFailureAt + delay > policy.maxElapsedMs) return { giveUp: true };
  return { retryInMs: delay };
}
