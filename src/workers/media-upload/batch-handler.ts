import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Logger } from '../../infra/logger.ts';
import { InOrderOffsets } from './in-order-offsets.ts';
import { publishWithFallback } from './outcome-fallback.ts';
import { isPermanentPublishFailure } from './outcome-publisher.ts';
import type { UploadOutcome } from './outcomes.ts';
import type { InboundMessage, MessageResult } from './process-message.ts';
import { nextStep, type FailureHistory, type RetryPolicy } from './retry-schedule.ts';
import { Slots } from './slots.ts';
import type { UploadMetrics } from './upload-metrics.ts';

export interface BatchHandlerDeps {
  process(message: InboundMessage, attempt: number, signal: AbortSignal): Promise<MessageResult>;
  /**
   * Resolves once the broker has the outcome. A permanent refusal (not retriable) is answered by
   * a minimal outcome; any other failure fails the batch, to be fetched again.
   */
  publish(outcome: UploadOutcome, requestKey: Buffer | null): Promise<void>;
  /**
   * Told each batch's messages before any is processed: reads what they need at once, and returns
   * the `configsFrom` of their processing (see `InboundMessage`).
   */
  readConfigs?(messages: readonly KafkaMessage[]): number;
  /** After publishing: the status shown to users. */
  published(outcome: UploadOutcome): void;
  /** Messages worked on at once, over all partitions. */
  concurrency: number;
  retryPolicy: RetryPolicy;
  /** Aborted on shutdown: in-flight work is abandoned, nothing new starts. */
  signal: AbortSignal;
  /** Runs `resume` after `delayMs`, unless the worker stops first. */
  resumeLater(resume: () => void, delayMs: number): void;
  metrics?: UploadMetrics;
  logger: Logger;
  heartbeatIntervalMs?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * The consumer's eachBatch. Messages with the same key (one instance) are handled one after the
 * other, in order; messages of different instances at the same time, up to `concurrency` over all
 * partitions: one partition holding a few busy instances does not leave the others waiting.
 * An offset is resolved (and so may be committed) once its outcome and those of every earlier
 * message are on the broker.
 *
 * A transient failure pauses the partition: nothing more of the batch starts, and after the
 * backoff the partition resumes from the failed message. Messages finished meanwhile behind it are
 * remembered and skipped when fetched again. Waiting inside the handler instead would stall every
 * partition of the broker (kafkajs fetches again only when all batches in hand are handled).
 */
export function batchHandler(deps: BatchHandlerDeps) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const slots = new Slots(deps.concurrency);
  // Outcomes uploaded but not yet on the broker: bounded, so that while the broker is away the
  // uploads do not run through whole batches whose offsets cannot be committed (they would all be
  // uploaded again on redelivery).
  const unacknowledged = new Slots(deps.concurrency * outcomesAheadPerSlot);
  // Failures so far of the messages waiting for a retry, by topic:partition:offset.
  const histories = new Map<string, FailureHistory>();
  // Per partition: offsets whose outcome is out while an earlier message waits for its retry.
  const finishedAhead = new Map<string, Set<string>>();

  return async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload;
    const { topic, partition } = batch;
    const partitionKey = `${topic}:${partition}`;
    const ahead = finishedAhead.get(partitionKey) ?? new Set<string>();
    finishedAhead.delete(partitionKey);
    const progress = new InOrderOffsets(batch.messages.map((message) => message.offset));
    let halted = false;

    const finish = (offset: string) => {
      const through = progress.finish(offset);
      if (through !== undefined) payload.resolveOffset(through);
    };

    /** The attempt, in one of the upload slots: the result to publish, or undefined to stop. */
    const attemptInSlot = async (message: KafkaMessage) => {
      const release = await slots.acquire();
      try {
        if (halted || deps.signal.aborted || !payload.isRunning() || payload.isStale()) {
          return undefined;
        }
        const historyKey = `${partitionKey}:${message.offset}`;
        const history = histories.get(historyKey);
        const attempt = (history?.failures ?? 0) + 1;
        const started = now();
        const result = await deps.process(
          { topic, partition, ...message, configsFrom },
          attempt,
          deps.signal,
        );
        if (result.kind === 'abandoned') {
          halted = true;
          return undefined;
        }
        if (result.kind === 'transient') {
          const failures = {
            firstFailureAt: history?.firstFailureAt ?? started,
            failures: attempt,
          };
          const step = nextStep(failures, now(), deps.retryPolicy, random);
          if ('retryInMs' in step) {
            histories.set(historyKey, failures);
            deps.metrics?.retryScheduled(result.code);
            deps.logger.warn(
              { ...subject(result.outcome), topic, partition, offset: message.offset },
              `upload failed, partition paused for ${step.retryInMs} ms: ${result.reason}`,
            );
            if (!halted) {
              halted = true;
              deps.resumeLater(payload.pause(), step.retryInMs);
            }
            return undefined;
          }
        }
        const acknowledged = await unacknowledged.acquire();
        return { outcome: result.outcome, historyKey, started, acknowledged };
      } finally {
        release();
      }
    };

    // The outcome is published outside the slot: the next upload need not wait for the broker's
    // acknowledgement, and outcomes finishing meanwhile share the next produce request.
    const handle = async (message: KafkaMessage): Promise<boolean> => {
      const attempted = await attemptInSlot(message);
      if (!attempted) return false;
      const { historyKey, started } = attempted;
      const sent = await publishWithFallback(attempted.outcome, {
        publish: (outcome) => deps.publish(outcome, message.key),
        // A producer refusing because the worker is stopping is no verdict on the outcome.
        isPermanent: (error) => !deps.signal.aborted && isPermanentPublishFailure(error),
        where: { topic, partition, offset: message.offset },
        logger: deps.logger,
      }).finally(attempted.acknowledged);
      histories.delete(historyKey);
      finish(message.offset);
      const outcome = sent ?? attempted.outcome;
      if (sent) deps.published(sent);
      const lag = Number(batch.highWatermark) - Number(message.offset) - 1;
      report(deps, outcome, (now() - started) / 1000, { topic, partition, lag });
      return true;
    };

    const configsFrom = deps.readConfigs?.(batch.messages) ?? 0;
    const stopHeartbeats = keepHeartbeating(() => payload.heartbeat(), deps.heartbeatIntervalMs);
    try {
      const lastOfKey = new Map<string, Promise<boolean>>();
      const handled: Promise<boolean>[] = [];
      for (const message of batch.messages) {
        if (ahead.has(message.offset)) {
          finish(message.offset);
          continue;
        }
        // One instance's messages in order: each starts once the one before it is done.
        const key = message.key?.toString('base64') ?? '';
        const previous = lastOfKey.get(key);
        const run = previous
          ? previous.then((done) => (done ? handle(message) : false))
          : handle(message);
        lastOfKey.set(key, run);
        handled.push(run);
      }
      const settled = await Promise.allSettled(handled);
      const stuck = progress.finishedBeyondGap();
      if (stuck.length > 0) finishedAhead.set(partitionKey, new Set(stuck));
      const failure = settled.find((outcome) => outcome.status === 'rejected');
      // A failed publish: kafkajs fetches again from the last resolved offset.
      if (failure) throw failure.reason;
    } finally {
      stopHeartbeats();
    }
  };
}

// Per upload slot, outcomes that may wait for the broker: enough to fill a produce request.
const outcomesAheadPerSlot = 4;

function report(
  deps: BatchHandlerDeps,
  outcome: UploadOutcome,
  seconds: number,
  where: { topic: string; partition: number; lag: number },
): void {
  deps.metrics?.uploadFinished(
    outcome.type,
    outcome.type === 'failed' ? outcome.body.code : 'completed',
    seconds,
    outcome.type === 'completed' ? outcome.body.size : 0,
  );
  deps.metrics?.consumerLag(where.topic, where.partition, where.lag);
  if (outcome.type === 'failed') {
    deps.logger.warn(
      { ...subject(outcome), code: outcome.body.code, retryable: outcome.body.retryable },
      `upload failed: ${outcome.body.reason}`,
    );
  }
}

function subject(outcome: UploadOutcome) {
  return { instance: outcome.body.instance, id: outcome.body.id };
}

/**
 * Keeps the group membership alive while a batch takes long (a large object): the session would
 * otherwise expire and the partition move to another worker mid-upload. A failed heartbeat (a
 * rebalance began) is seen again by kafkajs after the batch.
 */
function keepHeartbeating(heartbeat: () => Promise<void>, intervalMs = 3_000): () => void {
  // eslint-disable-next-line no-restricted-syntax -- kafkajs sees the failure again after the batch
  const timer = setInterval(() => void heartbeat().catch(() => {}), intervalMs);
  return () => clearInterval(timer);
}
