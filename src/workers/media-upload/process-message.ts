import { describeS3Failure } from '../../infra/s3/s3-failure.ts';
import {
  completed,
  describeMessage,
  failed,
  storageDisabled,
  type UploadOutcome,
} from './outcomes.ts';
import { uploadMedia, type UploadMediaDeps } from './upload-media.ts';
import { UploadFailedError } from './upload-failure.ts';
import { parseUploadRequest, type UploadRequest } from './upload-request.ts';
import type { UploadTarget } from './upload-targets.ts';

export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /**
   * Its instance's configuration must come from this read of the read model or a later one: a
   * read made after the message was fetched, so a change whose announcement this process has not
   * heard yet (a disable) still applies to every message sent after the change was visible.
   */
  configsFrom: number;
}

export type MessageResult =
  /** Publish this outcome and move on. */
  | { kind: 'finished'; outcome: UploadOutcome }
  /** Worth another attempt later; `outcome` is what to publish when giving up. */
  | { kind: 'transient'; code: string; reason: string; outcome: UploadOutcome }
  /** Stopped by shutdown: no outcome, the message is delivered again. */
  | { kind: 'abandoned' };

export interface ProcessMessageDeps extends UploadMediaDeps {
  targets: { find(instance: string, readFrom: number): Promise<UploadTarget | undefined> };
  /** A larger request is refused unread: the requested topic's max.message.bytes. */
  maxRequestBytes: number;
}

/** One attempt at one message, from its bytes on the topic to the outcome to publish. */
export function messageProcessor(deps: ProcessMessageDeps) {
  return async (
    message: InboundMessage,
    attempt: number,
    signal: AbortSignal,
  ): Promise<MessageResult> => {
    const size = message.value?.length ?? 0;
    if (size > deps.maxRequestBytes) {
      return finished(
        invalid(message, attempt, 'message-too-large', {
          problem: `the message has ${size} bytes, more than the ${deps.maxRequestBytes} allowed`,
          id: null,
          instance: null,
        }),
      );
    }
    const parsed = parseUploadRequest(message.value);
    if (!parsed.valid) {
      return finished(
        invalid(message, attempt, 'invalid-message', {
          problem: `invalid upload request: ${parsed.problem}`,
          id: parsed.id,
          instance: parsed.instance,
        }),
      );
    }
    const { request } = parsed;
    try {
      const target = await findTarget(deps, request.instance, message.configsFrom);
      if (!target) {
        return finished(failure(request, attempt, storageDisabled, storageDisabled, false));
      }
      return finished(completed(await uploadMedia(request, target, deps, signal)));
    } catch (error) {
      if (signal.aborted) return { kind: 'abandoned' };
      const { code, reason, transient } =
        error instanceof UploadFailedError ? error.failure : describeS3Failure(error);
      const outcome = failure(request, attempt, code, reason, transient);
      return transient ? { kind: 'transient', code, reason, outcome } : finished(outcome);
    }
  };
}

async function findTarget(deps: ProcessMessageDeps, instance: string, readFrom: number) {
  try {
    return await deps.targets.find(instance, readFrom);
  } catch (error) {
    if (error instanceof UploadFailedError) throw error;
    throw new UploadFailedError(
      'config-unavailable',
      'the storage configuration cannot be read',
      true,
    );
  }
}

/** A message that is no upload request: described (never copied) so that it can be found. */
function invalid(
  message: InboundMessage,
  attempts: number,
  code: string,
  about: { problem: string; id: string | null; instance: string | null },
): UploadOutcome {
  return failed({
    id: about.id,
    instance: about.instance,
    code,
    reason: about.problem,
    attempts,
    retryable: false,
    message: describeMessage(message),
  });
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
