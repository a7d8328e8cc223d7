import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refuseForbiddenEndpoint } from '../commands/endpoint-address-check.ts';
import { instanceRoute, type InstanceAccessHooks } from '../http/auth.ts';
import { ApiError, ErrorBody } from '../http/error-handler.ts';
import type { AddressPolicy } from '../infra/network/address-policy.ts';
import { probeBucket } from '../infra/s3/bucket-probe.ts';
import { createS3Client, type S3Connection } from '../infra/s3/s3-client.ts';
import type { StoredTestAnswer } from './stored-credential-test.ts';
import { instanceParams } from '../contract/instance-params.ts';
import { toS3ConfigRequest, updateS3ConfigBody } from '../commands/update-s3-config.schema.ts';

export interface TestS3ConfigRouteDeps {
  access: InstanceAccessHooks;
  endpointPolicy: AddressPolicy;
  /** Has a worker, which can open the stored secret, test the instance's stored credentials. */
  testStored(instance: string): Promise<StoredTestAnswer>;
  /**
   * For supplied settings, tested here. SSRF-guarded agents; a short timeout and one attempt
   * keep the answer prompt and honest.
   */
  connection: S3Connection;
}

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
        ...instanceRoute(deps.access, 'Failed to test S3 configuration', emptyBodyTestsStored),
        preHandler: refuseForbiddenEndpoint(deps.endpointPolicy),
        schema: {
          summary: 'Test S3',
          description:
            'Checks the stored credentials (no body, or `{}`; a worker runs the check, since only workers can open stored secrets) or the settings in the body (not stored) against the bucket now: HeadBucket, then writing and deleting a small probe object under pathPrefix. Answers each step; ok is true when uploads will work. The secret key is never returned. 503 when no worker is running to test stored credentials.',
          params: instanceParams,
          headers: z.object({ token: z.string().optional() }),
          body: suppliedSettings(deps.endpointPolicy).nullish(),
          response: {
            200: testS3ConfigResponse,
            400: ErrorBody,
            401: ErrorBody,
            404: ErrorBody,
            413: ErrorBody,
            415: ErrorBody,
            429: ErrorBody,
            500: ErrorBody,
            503: ErrorBody,
            504: ErrorBody,
          },
        },
      },
      async (request) => {
        const supplied = request.body;
        if (!supplied) return storedAnswer(await deps.testStored(request.params.instance));
        const target = fromSupplied(supplied);
        const client = createS3Client(target.location, deps.connection);
        const steps = await probeBucket(client, target.bucket, target.pathPrefix);
        return {
          success: true as const,
          ok: steps.every((step) => step.ok),
          tested: 'supplied' as const,
          bucket: target.bucket,
          steps,
        };
      },
    );
  };
}

// `{}` carries no settings, so it means the same as no body: test the stored ones.
async function emptyBodyTestsStored(request: FastifyRequest): Promise<void> {
  const { body } = request;
  const empty = typeof body === 'object' && body !== null && !Array.isArray(body);
  if (empty && Object.keys(body).length === 0) request.body = null;
}

function storedAnswer(answer: StoredTestAnswer) {
  switch (answer.outcome) {
    case 'tested':
      return {
        success: true as const,
        ok: answer.steps.every((step) => step.ok),
        tested: 'stored' as const,
        bucket: answer.bucket,
        steps: answer.steps,
      };
    case 'notEnabled':
      throw new ApiError('s3-not-enabled');
    case 'noWorker':
      throw new ApiError('no-worker');
    case 'late':
      throw new ApiError('worker-late');
    case 'failed':
      throw new Error('the worker could not test the stored credentials (see its log)');
  }
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
