import { z } from 'zod';
import {
  bucketNameProblem,
  credentialPattern,
  endpointProblem,
  normaliseEndpoint,
  normalisePathPrefix,
  normalisePublicBaseUrl,
  pathPrefixProblem,
  publicBaseUrlProblem,
  regionPattern,
} from '../domain/s3-settings-rules.ts';
import { hostProblem, type AddressPolicy } from '../infra/network/address-policy.ts';
import type { S3ConfigRequest } from './s3-config-handler.ts';

export const instanceParams = z.object({
  instance: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be an instance name')
    .describe('Instance name.'),
});

const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, context) => {
    const message = problem(value);
    if (message) context.addIssue({ code: 'custom', message });
  });

/** The request body of POST /api/instance/s3/:instance, checked and normalised. */
export function updateS3ConfigBody(policy: AddressPolicy) {
  return z
    .strictObject({
      enabled: z.boolean().describe('Enables/disables the instance S3. false clears all fields.'),
      region: z
        .string()
        .max(32)
        .regex(regionPattern, 'must look like a region, e.g. us-east-1')
        .optional()
        .describe('Region (e.g., us-east-1).'),
      bucket: checked(bucketNameProblem)
        .optional()
        .describe('Bucket name (must exist; no creation is performed).'),
      accessKey: z
        .string()
        .min(1)
        .max(128)
        .regex(credentialPattern, 'must be printable characters without spaces')
        .optional()
        .describe('Access Key ID.'),
      secretKey: z
        .string()
        .min(1)
        .max(256)
        .regex(credentialPattern, 'must be printable characters without spaces')
        .optional()
        .describe(
          'Secret Access Key. Encrypted at-rest, never returned. May be omitted while enabled to keep the stored one.',
        ),
      endpoint: z
        .string()
        .max(2048)
        .superRefine((value, context) => {
          const message =
            value === ''
              ? undefined
              : (endpointProblem(value) ?? hostProblem(new URL(value).hostname, policy));
          if (message) context.addIssue({ code: 'custom', message });
        })
        .optional()
        .describe('Custom endpoint (MinIO, DO Spaces, Backblaze). Empty for official AWS S3.'),
      pathPrefix: checked(pathPrefixProblem)
        .pipe(z.string().max(512))
        .optional()
        .describe('Path prefix (e.g., media/myinstance/).'),
      publicBaseUrl: z
        .string()
        .max(2048)
        .superRefine((value, context) => {
          const message = value === '' ? undefined : publicBaseUrlProblem(value);
          if (message) context.addIssue({ code: 'custom', message });
        })
        .optional()
        .describe(publicBaseUrlDescription),
    })
    .superRefine((body, context) => {
      if (!body.enabled) return;
      for (const field of ['region', 'bucket', 'accessKey'] as const) {
        if (body[field] === undefined) {
          context.addIssue({ code: 'custom', path: [field], message: 'is required when enabled' });
        }
      }
    });
}

const publicBaseUrlDescription =
  'Optional (an extension of the seed): an https URL where the bucket is publicly readable (a CDN or a public bucket), without credentials, query or fragment; stored ending with "/". Completed uploads then carry url = publicBaseUrl + object key, which does not expire. Omitted or empty: no public links. Like every field but secretKey, it is replaced by each enabling request and cleared by a disable.';

export type UpdateS3ConfigBody = z.output<ReturnType<typeof updateS3ConfigBody>>;

export function toS3ConfigRequest(body: UpdateS3ConfigBody): S3ConfigRequest {
  if (!body.enabled) return { enabled: false };
  return {
    enabled: true,
    settings: {
      region: body.region!,
      bucket: body.bucket!,
      accessKey: body.accessKey!,
      endpoint: normaliseEndpoint(body.endpoint ?? ''),
      pathPrefix: normalisePathPrefix(body.pathPrefix ?? ''),
      ...(body.publicBaseUrl ? { publicBaseUrl: normalisePublicBaseUrl(body.publicBaseUrl) } : {}),
    },
    ...(body.secretKey === undefined ? {} : { secretKey: body.secretKey }),
  };
}

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

export const updateS3ConfigResponse = z.object({
  success: z.literal(true),
  message: z.literal('S3 configuration updated'),
  s3: s3View,
});
