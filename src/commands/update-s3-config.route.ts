import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { publicView, S3ConfigRejected } from '../domain/s3-config.ts';
import { refuseForbiddenEndpoint } from './endpoint-address-check.ts';
import { ApiError, invalidRequestBody } from '../http/api-error.ts';
import { authenticatedPrincipal, type InstanceAccessHooks } from '../http/auth.ts';
import type { AddressPolicy } from '../infra/network/address-policy.ts';
import { formatPosition, type LogPosition } from '../event-sourcing/event-store.ts';
import { ConcurrentChangeError } from '../event-sourcing/command-handler.ts';
import type { createUpdateS3ConfigHandler } from './update-s3-config.handler.ts';
import { failureResponse } from '../contract/failure-response.ts';
import { instanceParams } from '../contract/instance-params.ts';
import {
  toS3ConfigRequest,
  updateS3ConfigBody,
  updateS3ConfigResponse,
} from './update-s3-config.schema.ts';
import { updateS3ConfigExamples } from './update-s3-config.examples.ts';

export interface UpdateS3ConfigRouteDeps {
  handle: ReturnType<typeof createUpdateS3ConfigHandler>;
  endpointPolicy: AddressPolicy;
  /** Token check before the body is read, then access to :instance (401/404 before any 400). */
  access: InstanceAccessHooks;
  /** Told of every append, so that this process's GETs wait for the projection to include it. */
  ownWrites: { appended(instance: string, position: LogPosition): void };
}

/** POST /api/instance/s3/:instance — the seed's "Update S3", the UpdateS3Config command. */
export function updateS3ConfigRoute(deps: UpdateS3ConfigRouteDeps) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/instance/s3/:instance',
      {
        config: { failureMessage: 'Failed to update S3 configuration', rateLimit: {} },
        onRequest: deps.access.authenticate,
        preValidation: deps.access.authorizeInstance,
        preHandler: refuseForbiddenEndpoint(deps.endpointPolicy),
        schema: {
          summary: 'Update S3 config',
          description:
            'Configures the S3 storage of the instance. secretKey is encrypted at-rest and never returned. For S3-compatible storage (MinIO, Backblaze, DO Spaces), fill endpoint with the URL.',
          params: instanceParams,
          headers: z.object({
            token: z.string().optional().describe('TokenAccount or TokenInstance.'),
            'if-match': z
              .string()
              .regex(/^"\d+"$/, 'must be a quoted revision, e.g. "3"')
              .optional(),
          }),
          body: updateS3ConfigBody(deps.endpointPolicy).meta({
            examples: updateS3ConfigExamples,
          }),
          response: {
            200: updateS3ConfigResponse,
            400: failureResponse,
            401: failureResponse,
            404: failureResponse,
            409: failureResponse,
            412: failureResponse,
            413: failureResponse,
            415: failureResponse,
            429: failureResponse,
            500: failureResponse,
          },
        },
      },
      async (request, reply) => {
        const ifMatch = request.headers['if-match'];
        const principal = authenticatedPrincipal(request);
        try {
          const outcome = await deps.handle({
            instance: request.params.instance,
            request: toS3ConfigRequest(request.body),
            actor: { tokenKind: principal.kind, tokenId: principal.tokenId },
            ...(ifMatch ? { expectedRevision: Number(ifMatch.slice(1, -1)) } : {}),
            requestId: request.id,
          });
          if (outcome.state.revision !== null) reply.header('etag', `"${outcome.state.revision}"`);
          if (outcome.position) {
            deps.ownWrites.appended(request.params.instance, outcome.position);
            reply.header('x-stowage-position', formatPosition(outcome.position));
          }
          return {
            success: true as const,
            message: 'S3 configuration updated' as const,
            s3: publicView(outcome.state),
          };
        } catch (error) {
          throw toApiError(error);
        }
      },
    );
  };
}

function toApiError(error: unknown): unknown {
  if (error instanceof S3ConfigRejected) {
    if (error.reason === 'revision-mismatch') return new ApiError(412, error.message);
    return new ApiError(400, invalidRequestBody, [
      { field: error.field ?? 'body', message: error.message },
    ]);
  }
  if (error instanceof ConcurrentChangeError) {
    return new ApiError(409, 'S3 configuration is being changed concurrently. Try again.');
  }
  return error;
}
