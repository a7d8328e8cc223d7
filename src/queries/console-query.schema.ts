import { z } from 'zod';
import { decimalInteger } from './decimal-integer.ts';

const latestUpload = z
  .discriminatedUnion('outcome', [
    z.object({ outcome: z.literal('completed'), at: z.string() }),
    z.object({ outcome: z.literal('failed'), at: z.string(), reason: z.string() }),
  ])
  .nullable()
  .describe("The media-upload worker's latest outcome for the instance; null before the first.");

export const instanceSummary = z.object({
  name: z.string(),
  enabled: z.boolean().describe('Whether S3 storage is enabled.'),
  bucket: z.string().describe('The configured bucket; empty when not enabled.'),
  latestUpload,
});

export type InstanceSummary = z.output<typeof instanceSummary>;

export const instanceListQuery = z.object({
  limit: decimalInteger(1, 500).default(50).describe('Instances per page.'),
  after: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be an instance name')
    .optional()
    .describe('Only instances named after this one: the nextAfter of the previous page.'),
});

export const instanceListResponse = z.object({
  success: z.literal(true),
  instances: z.array(instanceSummary),
  nextAfter: z
    .string()
    .nullable()
    .describe('Pass as `after` for the next page; null on the last page.'),
});

export const uploadHistory = z.object({
  hourly: z
    .array(z.object({ hour: z.string(), completed: z.number().int(), failed: z.number().int() }))
    .describe('Completed and failed uploads per hour over the last 24 hours, oldest first.'),
  recent: z
    .array(
      z.discriminatedUnion('outcome', [
        z.object({ outcome: z.literal('completed'), at: z.string(), key: z.string() }),
        z.object({ outcome: z.literal('failed'), at: z.string(), reason: z.string() }),
      ]),
    )
    .describe('The last 20 outcomes, newest first.'),
});

export type UploadHistory = z.output<typeof uploadHistory>;

export const uploadHistoryResponse = uploadHistory.extend({ success: z.literal(true) });
