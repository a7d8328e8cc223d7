import { z } from 'zod';
import { instanceNamePattern } from '../../domain/instance-name.ts';

/**
 * A `media.upload.requested` message: which instance's bucket, and where the bytes are. Small
 * media come inside the message (base64); anything large as a URL the worker streams from.
 */

// The id becomes part of the object key, so it may not carry '/' or anything needing escaping;
// WhatsApp message ids (hex, or wamid.<base64>) fit.
const messageId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._=+-]{0,199}$/, 'must be 1-200 letters, digits or ._=+-');

// Sent as the Content-Type header, which S3 stores as-is: type/subtype (RFC 6838 characters)
// with optional parameters, printable ASCII only. No CR, LF, tab or other control character,
// nothing non-ASCII: HTTP clients refuse those in a header (or worse, pass them on).
const contentType = z
  .string()
  .max(255)
  .regex(
    /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+( *;[\x20-\x7e]*)?$/,
    'must be a media type, e.g. image/jpeg',
  );

// A name for people (WhatsApp documents carry any script), kept out of headers except as
// RFC 6266/8187 percent-encoded UTF-8: refused are control characters (CR/LF included), line
// and paragraph separators and unpaired surrogates, which no encoding carries faithfully.
const fileName = z
  .string()
  .min(1)
  .max(255)
  .refine(
    (name) => !/[\p{Cc}\p{Cs}\u2028\u2029]/u.test(name),
    'must be a file name without control characters',
  );

const sha256 = z
  .string()
  .regex(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, 'must be a SHA-256 digest in hex or base64')
  .transform((text) => Buffer.from(text, text.length === 64 ? 'hex' : 'base64'));

// Stored as S3 user metadata (x-amz-meta-*): header-safe names and values, 2 KB in all.
const metadata = z
  .record(
    z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'names must be letters, digits, _ or -'),
    z.string().regex(/^[\x20-\x7e]*$/, 'values must be printable ASCII'),
  )
  .refine(
    (entries) =>
      Object.entries(entries).reduce((sum, [k, v]) => sum + k.length + v.length, 0) <= 2048,
    'must be at most 2 KB in all',
  );

const source = z.union([
  z.strictObject({ url: z.url({ protocol: /^https?$/ }).max(8192) }),
  z.strictObject({ base64: z.base64() }),
]);

const uploadRequestSchema = z.object({
  id: messageId,
  instance: z.string().regex(instanceNamePattern, 'must be an instance name'),
  fileName: fileName.optional(),
  contentType,
  source,
  sha256: sha256.optional(),
  metadata: metadata.optional(),
});

export type UploadRequest = z.output<typeof uploadRequestSchema>;

export type ParsedUploadRequest =
  | { valid: true; request: UploadRequest }
  | { valid: false; problem: string; id: string | null; instance: string | null };

export function parseUploadRequest(value: Buffer | null): ParsedUploadRequest {
  let json: unknown;
  try {
    json = JSON.parse(value?.toString('utf8') ?? '');
  } catch {
    return { valid: false, problem: 'message is not JSON', id: null, instance: null };
  }
  const parsed = uploadRequestSchema.safeParse(json);
  if (parsed.success) return { valid: true, request: parsed.data };
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'message';
  return {
    valid: false,
    problem: `${field} ${issue.message}`,
    // Whatever identifies the message is passed on, so the platform can match the failure.
    id: stringField(json, 'id'),
    instance: stringField(json, 'instance'),
  };
}

function stringField(json: unknown, name: string): string | null {
  if (typeof json !== 'object' || json === null) return null;
  const value = (json as Record<string, unknown>)[name];
  return typeof value === 'string' ? value.slice(0, 200) : null;
}
