import { z } from 'zod';
import type { S3ConfigEvent } from './s3-config.ts';

/**
 * Stored events back into domain events. Every schemaVersion ever written stays readable here
 * (a later version adds its own schema and an upcast to the current shape), so the whole history
 * always replays.
 */

const actor = z.object({ tokenKind: z.enum(['account', 'instance']), tokenId: z.string() });

const updatedV1 = z.object({
  schemaVersion: z.literal(1),
  instance: z.string(),
  region: z.string(),
  bucket: z.string(),
  accessKey: z.string(),
  endpoint: z.string(),
  pathPrefix: z.string(),
  // Added later, optional, so without it the event is exactly what was written before: a new
  // field that old events lack needs no new schemaVersion.
  publicBaseUrl: z.string().optional(),
  secret: z.discriminatedUnion('change', [
    z.object({
      change: z.literal('sealed'),
      keyId: z.string(),
      mac: z.string(),
      ciphertext: z.string(),
    }),
    z.object({ change: z.literal('unchanged') }),
  ]),
  actor,
  at: z.string(),
});

const disabledV1 = z.object({
  schemaVersion: z.literal(1),
  instance: z.string(),
  keyId: z.string(),
  actor,
  at: z.string(),
});

export const s3ConfigEventTypes = ['S3ConfigUpdated', 'S3ConfigDisabled'] as const;

/** The event as the domain knows it; undefined for a type it does not know. Throws on a malformed one. */
export function toS3ConfigEvent(type: string, data: unknown): S3ConfigEvent | undefined {
  switch (type) {
    case 'S3ConfigUpdated':
      return { type, data: updatedV1.parse(data) };
    case 'S3ConfigDisabled':
      return { type, data: disabledV1.parse(data) };
    default:
      return undefined;
  }
}
