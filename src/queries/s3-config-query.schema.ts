import { z } from 'zod';
import { decimalInteger } from './decimal-integer.ts';
import { parsePosition, type LogPosition } from '../event-sourcing/event-store.ts';
import { s3View } from '../contract/s3-view.ts';

// The pattern parsePosition accepts, so that it is documented and every match parses.
const position = z
  .string()
  .regex(/^\d{1,20}-\d{1,20}$/, 'must be a position as x-stowage-position gives it, e.g. 812-4031')
  .transform((text) => parsePosition(text) as LogPosition);

export const getS3ConfigQuery = z.object({
  minPosition: position
    .optional()
    .describe(
      'Read your writes: wait (briefly) until the read model includes the change at this x-stowage-position.',
    ),
});

export const getS3ConfigHeaders = z.object({
  token: z.string().optional().describe('TokenAccount or TokenInstance.'),
  'x-stowage-min-position': position.optional().describe('As the minPosition query parameter.'),
});

export const s3ConfigView = s3View.extend({
  updatedAt: z
    .string()
    .nullable()
    .describe('When the last change was made; null if never configured.'),
  revision: z
    .number()
    .int()
    .nullable()
    .describe('Revision of the configuration, as in the ETag; null if never configured.'),
  uploadStatus: z
    .object({
      lastUploadAt: z.string().nullable(),
      lastUploadKey: z.string().nullable(),
      lastError: z.object({ at: z.string(), reason: z.string() }).nullable(),
    })
    .nullable()
    .describe(
      'The latest outcomes of the media-upload worker for this instance, so that a broken bucket or wrong credentials show here; null before the first upload request.',
    ),
});

export type S3ConfigView = z.output<typeof s3ConfigView>;

export const getS3ConfigResponse = z.object({
  success: z.literal(true),
  s3: s3ConfigView,
});

export const historyQuery = z.object({
  limit: decimalInteger(1, 500).default(50).describe('Entries per page.'),
  after: decimalInteger(0, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Only entries after this revision: the nextAfter of the previous page.'),
});

const fieldChange = <T extends z.ZodType>(value: T) => z.object({ from: value, to: value });

export const historyEntry = z.object({
  revision: z.number().int(),
  type: z.enum(['S3ConfigUpdated', 'S3ConfigDisabled']),
  at: z.string(),
  actor: z.object({ tokenKind: z.enum(['account', 'instance']), tokenId: z.string() }),
  changes: z.object({
    enabled: fieldChange(z.boolean()).optional(),
    region: fieldChange(z.string()).optional(),
    bucket: fieldChange(z.string()).optional(),
    accessKey: fieldChange(z.string()).optional(),
    endpoint: fieldChange(z.string()).optional(),
    pathPrefix: fieldChange(z.string()).optional(),
    publicBaseUrl: fieldChange(z.string()).optional(),
    secretKey: z.literal('changed').optional().describe('A new secret key was stored.'),
  }),
});

export type HistoryEntry = z.output<typeof historyEntry>;

export const historyResponse = z.object({
  success: z.literal(true),
  history: z.array(historyEntry),
  nextAfter: z
    .number()
    .int()
    .nullable()
    .describe('Pass as `after` for the next page; null on the last page.'),
});
