import { describeS3Failure } from '../../infra/s3/s3-failure.ts';
import { completed, failed, rawMessage, storageDisabled, type UploadOutcome } from './outcomes.ts';
import { uploadMedia, type UploadMediaDeps } from './upload-media.ts';
import { UploadFailure } from './upload-failure.ts';
import { parseUploadRequest, type UploadRequest } from './upload-request.ts';
import type { UploadTarget } from './upload-targets.ts';

export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export type MessageResult =
  /** Publish this outcome and move on. */
  | { kind: 'finished'; outcome: UploadOutcome }
  /** Worth another attempt later; `outcome` is what to publish when giving up. */
  | { kind: 'transient'; code: string; reason: string; outcome: UploadOutcome }
  /** Stopped by shutdown: no outcome, the message is delivered again. */
  | { kind: 'abandoned' };

export interface ProcessMessageDeps extends UploadMediaDeps {
  targets: { find(instance: string): Promise<UploadTarget | undefined> };
}

/** One attempt at one message, from its bytes on the topic to the outcome to publish. */
export function messageProcessor(deps: ProcessMessageDeps) {
  return async (
    message: InboundMessage,
    attempt: number,
    signal: AbortSignal,
  ): Promise<MessageResult> => {
    const parsed = parseUploadRequest(message.value);
    if (!parsed.valid) {
      return finished(
        failed({
          id: parsed.id,
          instance: parsed.instance,
          code: 'invalid-message',
          reason: `invalid upload request: ${parsed.problem}`,
          attempts: attempt,
          retryable: false,
          message: rawMessage(message.topic, message.partition, message),
        }),
      );
    }
    const { request } = parsed;
    try {
      const target = await findTarget(deps, request.instance);
      if (!target) {
        return finished(failure(request, attempt, storageDisabled, storageDisabled, false));
      }
      return finished(completed(await uploadMedia(request, target, deps, signal)));
    } catch (error) {
      if (signal.aborted) return { kind: 'abandoned' };
      const { code, reason, transient } =
        error instanceof UploadFailure ? error : describeS3Failure(error);
      const outcome = failure(request, attempt, code, reason, transient);
      return transient ? { kind: 'transient', code, reason, outcome } : finished(outcome);
    }
  };
}

async function findTarget(deps: ProcessMessageDeps, instance: string) {
  try {
    return await deps.targets.find(instance);
  } catch (error) {
    if (error instanceof UploadFailure) throw error;
    throw new UploadFailure('config-unavailable', 'the storage configuration cannot be read', true);
  }
}

function finished(outcome: UploadOutcome): MessageResult {
  return { kind: 'finished', outcome };
}

function failure(
  request: UploadRequest,
  attempts: number,
  code: string,
  reason: string,
  retryable: boolean,
): UploadOutcome {
  return failed({ id: request.id, instance: request.instance, code, reason, attempts, retryable });
}
