import type { MediaLinks } from './media-links.ts';

/** What the worker tells the platform about each message: exactly one outcome per message. */

export type UploadCompleted = StoredObject & MediaLinks;

interface StoredObject {
  id: string;
  instance: string;
  bucket: string;
  key: string;
  size: number;
  etag: string;
  contentType: string;
  location: string;
}

export interface UploadFailed {
  /** Null only for a message too broken to name them. */
  id: string | null;
  instance: string | null;
  /** Machine-readable: `storage-disabled`, `invalid-message`, an S3 error code, ... */
  code: string;
  reason: string;
  attempts: number;
  /** Whether sending the request again later may succeed. */
  retryable: boolean;
  /** An invalid message itself, so that nothing sent is lost. */
  message?: RawMessage;
}

export interface RawMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  valueEncoding: 'utf8' | 'base64';
}

export type UploadOutcome =
  { type: 'completed'; body: UploadCompleted } | { type: 'failed'; body: UploadFailed };

export const storageDisabled = 'storage-disabled';

export function failed(body: UploadFailed): UploadOutcome {
  return { type: 'failed', body };
}

export function completed(body: UploadCompleted): UploadOutcome {
  return { type: 'completed', body };
}

export interface OutcomeTopics {
  completed: string;
  failed: string;
}

/** Keyed by instance like the request, so one instance's outcomes stay in order. */
export function outcomeRecord(
  outcome: UploadOutcome,
  topics: OutcomeTopics,
  requestKey: string | null,
) {
  return {
    topic: topics[outcome.type],
    message: {
      key: outcome.body.instance ?? requestKey,
      value: JSON.stringify(outcome.body),
    },
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function rawMessage(
  topic: string,
  partition: number,
  message: { offset: string; key: Buffer | null; value: Buffer | null },
): RawMessage {
  const text = message.value ? utf8OrUndefined(message.value) : null;
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ? (utf8OrUndefined(message.key) ?? message.key.toString('base64')) : null,
    value: text === undefined ? message.value!.toString('base64') : text,
    valueEncoding: text === undefined ? 'base64' : 'utf8',
  };
}

function utf8OrUndefined(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
