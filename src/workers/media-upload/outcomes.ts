import { createHash } from 'node:crypto';
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
  /** An invalid message: where it is (it stays there for the topic's retention) and what it was. */
  message?: MessageDescription;
}

/** Enough to find and recognise a message, however large: never the message itself. */
export interface MessageDescription {
  topic: string;
  partition: number;
  offset: string;
  /** Bytes of the value, and their SHA-256 (hex); null for a message without a value. */
  size: number;
  sha256: string | null;
  key: Excerpt | null;
  excerpt: Excerpt | null;
}

/** The first bytes of a key or value: as text when they are UTF-8, else base64. */
export interface Excerpt {
  text: string;
  encoding: 'utf8' | 'base64';
  truncated: boolean;
}

export type UploadOutcome =
  { type: 'completed'; body: UploadCompleted } | { type: 'failed'; body: UploadFailed };

export const storageDisabled = 'storage-disabled';

/**
 * Every string of a failed outcome is clamped, so its JSON stays under maxFailedOutcomeBytes
 * whatever the message held: an outcome the broker refuses would stop the partition.
 */
export function failed(body: UploadFailed): UploadOutcome {
  return {
    type: 'failed',
    body: {
      ...body,
      id: body.id === null ? null : clamp(body.id, 200),
      instance: body.instance === null ? null : clamp(body.instance, 200),
      code: clamp(body.code, 64),
      reason: clamp(body.reason, 400),
    },
  };
}

// Worst case: every clamped character escaped to six bytes (\u0001) in JSON.
export const maxFailedOutcomeBytes = 8 * 1024;

/**
 * What is published when an outcome's own publish failed for good (the broker refused it): the
 * smallest outcome that still tells which message ended, so the partition can move on.
 */
export function minimalOutcome(
  outcome: UploadOutcome,
  where: { topic: string; partition: number; offset: string },
  problem: string,
): UploadOutcome {
  return failed({
    id: outcome.body.id,
    instance: outcome.body.instance,
    code: 'outcome-unpublishable',
    reason: clamp(`the ${outcome.type} outcome could not be published (${problem})`, 120),
    attempts: outcome.type === 'failed' ? outcome.body.attempts : 1,
    retryable: false,
    message: { ...where, size: 0, sha256: null, key: null, excerpt: null },
  });
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
  requestKey: Buffer | null,
) {
  return {
    topic: topics[outcome.type],
    message: {
      key: outcome.body.instance ?? boundedKey(requestKey),
      value: JSON.stringify(outcome.body),
    },
  };
}

// A key too long to copy is replaced by its digest: the same key still lands on one partition.
function boundedKey(key: Buffer | null): string | null {
  if (key === null) return null;
  return key.length <= 200 ? key.toString() : `sha256:${sha256Hex(key)}`;
}

export function describeMessage(message: {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}): MessageDescription {
  const { topic, partition, offset, key, value } = message;
  return {
    topic,
    partition,
    offset,
    size: value?.length ?? 0,
    sha256: value ? sha256Hex(value) : null,
    key: key ? excerptOf(key, 64) : null,
    excerpt: value ? excerptOf(value, 256) : null,
  };
}

function excerptOf(bytes: Buffer, maxBytes: number): Excerpt {
  const head = bytes.subarray(0, maxBytes);
  const truncated = bytes.length > maxBytes;
  try {
    // Streaming mode: a character cut at the excerpt's end is dropped, not an error.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: truncated });
    return { text, encoding: 'utf8', truncated };
  } catch {
    return { text: head.toString('base64'), encoding: 'base64', truncated };
  }
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function clamp(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  // Not between the two halves of a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[maxLength - 1]!) ? maxLength - 1 : maxLength;
  return `${text.slice(0, end)}…`;
}
