import type { Logger } from '../../infra/logger.ts';
import { minimalOutcome, type UploadOutcome } from './outcomes.ts';

export interface PublishAttempt {
  publish(outcome: UploadOutcome): Promise<void>;
  /** Whether a publish failure will fail again however often it is tried. */
  isPermanent(error: unknown): boolean;
  where: { topic: string; partition: number; offset: string };
  logger: Logger;
}

/**
 * Publishes `outcome`; when the broker refuses it for good, a minimal outcome instead; when even
 * that is refused, nothing, said loudly in the log. Resolves to what was published. Only a failure
 * that may pass (the broker away) rejects: the message is then handled again, later. A message
 * whose outcome can never be published must not hold its partition (and every message behind it)
 * forever.
 */
export async function publishWithFallback(
  outcome: UploadOutcome,
  attempt: PublishAttempt,
): Promise<UploadOutcome | undefined> {
  const { where, logger } = attempt;
  const subject = { id: outcome.body.id, instance: outcome.body.instance, ...where };
  try {
    await attempt.publish(outcome);
    return outcome;
  } catch (error) {
    if (!attempt.isPermanent(error)) throw error;
    const minimal = minimalOutcome(outcome, where, problemOf(error));
    logger.error(
      { ...subject, err: error, outcome: outcome.type },
      'the broker refused the outcome; publishing a minimal one instead',
    );
    try {
      await attempt.publish(minimal);
      return minimal;
    } catch (again) {
      if (!attempt.isPermanent(again)) throw again;
      logger.error(
        { ...subject, err: again, outcome: outcome.type },
        'the broker refused the minimal outcome too; the message is passed over without one',
      );
      return undefined;
    }
  }
}

function problemOf(error: unknown): string {
  const { type, name } = (error ?? {}) as { type?: unknown; name?: unknown };
  return typeof type === 'string' ? type : typeof name === 'string' ? name : 'unknown error';
}
