import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refuseForbiddenEndpoint } from './endpoint-address-check.ts';
import { ApiError } from '../http/api-error.ts';
import type { InstanceAccessHooks } from '../http/auth.ts';
import type { AddressPolicy } from '../infra/network/address-policy.ts';
import { probeBucket } from '../infra/s3/bucket-probe.ts';
import { createS3Client, type S3Connection } from '../infra/s3/s3-client.ts';
import type { StoredS3Target } from '../infra/s3/stored-s3-config.ts';
import {
  failureResponse,
  instanceParams,
  toS3ConfigRequest,
  updateS3ConfigBody,
} from './update-s3-config.schema.ts';

export interface TestS3ConfigRouteDeps {
  access: InstanceAccessHooks;
  endpointPolicy: AddressPolicy;
  /** The instance's configuration with its secret opened; undefined when not enabled. */
  storedTarget(instance: string): Promise<StoredS3Target | undefined>;
  /** SSRF-guarded agents; a short timeout and one attempt keep the answer prompt and honest. */
  connection: S3Connection;
}

export const notEnabled = 'S3 storage is not enabled for this instance: send the settings to test';

/** The fields of the POST, checked by the same rules; all required but endpoint and prefix. */
function suppliedSettings(policy: AddressPolicy) {
  const fields = updateS3ConfigBody(policy).shape;
  return z.strictObject({
    region: fields.region.unwrap(),
    bucket: fields.bucket.unwrap(),
    accessKey: fields.accessKey.unwrap(),
    secretKey: fields.secretKey.unwrap(),
    endpoint: fields.endpoint,
    pathPrefix: fields.pathPrefix,
  });
}

const stepResult = z.object({
  step: z.enum(['headBucket', 'putObject', 'deleteObject']),
  ok: z.boolean(),
  skipped: z.boolean().describe('Not tried, because an earlier step failed.'),
  code: z.string().optional().describe("The failure's code, e.g. SignatureDoesNotMatch."),
  message: z.string(),
  durationMs: z.number(),
});

const testS3ConfigResponse = z.object({
  success: z.literal(true),
  ok: z.boolean().describe('Whether every step passed: uploads will work.'),
  tested: z.enum(['stored', 'supplied']),
  bucket: z.string(),
  steps: z.array(stepResult),
});

/** POST /api/instance/s3/:instance/test — checks credentials against the bucket, now. */
export function testS3ConfigRoute(deps: TestS3ConfigRouteDeps) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/instance/s3/:instance/test',
      {
        config: { failureMessage: 'Failed to test S3 configuration', rateLimit: {} },
        onRequest: deps.access.authenticate,
        preValidation: deps.access.authorizeInstance,
        preHandler: refuseForbiddenEndpoint(deps.endpointPolicy),
        schema: {
          summary: 'Test S3',
          description:
            'Checks the stored credentials (or the settings in the body, which are not stored) against the bucket now: HeadBucket, then writing and deleting a small probe object under pathPrefix. Answers each step; ok is true when uploads will work. The secret key is never returned.',
          params: instanceParams,
          headers: z.object({ token: z.string().optional() }),
          body: suppliedSettings(deps.endpointPolicy).nullish(),
          response: {
            200: testS3ConfigResponse,
            400: failureResponse,
            401: failureResponse,
            404: failureResponse,
            413: failureResponse,
            415: failureResponse,
            429: failureResponse,
            500: failureResponse,
          },
        },
      },
      async (request) => {
        const supplied = request.body;
        const target = supplied
          ? fromSupplied(supplied)
          : await deps.storedTarget(request.params.instance);
        if (!target) throw new ApiError(400, notEnabled);
        const client = createS3Client(target.location, deps.connection);
        const steps = await probeBucket(client, target.bucket, target.pathPrefix);
        return {
          success: true as const,
          ok: steps.every((step) => step.ok),
          tested: supplied ? ('supplied' as const) : ('stored' as const),
          bucket: target.bucket,
          steps,
        };
      },
    );
  };
}

function fromSupplied(body: z.output<ReturnType<typeof suppliedSettings>>) {
  const normalised = toS3ConfigRequest({ enabled: true, ...body });
  if (!normalised.enabled) throw new Error('an enabling request normalised to a disable');
  const { settings } = normalised;
  return {
    bucket: settings.bucket,
    pathPrefix: settings.pathPrefix,
    location: {
      region: settings.region,
      endpoint: settings.endpoint,
      accessKeyId: settings.accessKey,
      secretAccessKey: body.secretKey,
    },
  };
}
