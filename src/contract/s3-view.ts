import { z } from 'zod';

/** An instance's S3 configuration as answered: the non-secret fields, empty when not enabled. */
export const s3View = z.object({
  enabled: z.boolean(),
  region: z.string(),
  bucket: z.string(),
  accessKey: z.string(),
  endpoint: z.string(),
  pathPrefix: z.string(),
  publicBaseUrl: z
    .string()
    .optional()
    .describe('Where completed uploads link to for good; absent when not set.'),
});
