import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { publicView } from '../domain/s3-config.ts';
import { refuseForbiddenEndpoint } from './endpoint-address-check.ts';
import { authenticatedPrincipal, instanceRoute, type InstanceAccessHooks } from '../http/auth.ts';
import { ErrorBody } from '../http/error-handler.ts';
import type { AddressPolicy } from '../infra/network/address-policy.ts';
import { formatPosition, type LogPosition } from '../event-sourcing/event-store.ts';
import type { createUpdateS3ConfigHandler } from './update-s3-config.handler.ts';
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
        ...instanceRoute(deps.access, 'Failed to update S3 configuration'),
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
              // Fifteen digits stay exact as a number; no stream gets anywhere near.
              .regex(/^"\d{1,15}"$/, 'must be a quoted revision, e.g. "3"')
              .optional(),
          }),
          body: updateS3ConfigBody(deps.endpointPolicy).meta({
            examples: updateS3ConfigExamples,
          }),
          response: {
            200: updateS3ConfigResponse,
            400: ErrorBody,
            401: ErrorBody,
            404: ErrorBody,
            409: ErrorBody,
            412: ErrorBody,
            413: ErrorBody,
            415: ErrorBody,
            429: ErrorBody,
            500: ErrorBody,
          },
        },
      },
      async (request, reply) => {
        const ifMatch = request.headers['if-match'];
        const principal = authenticatedPrincipal(request);
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
      },
    );
  };
}
