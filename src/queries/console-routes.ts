import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { instanceParams } from '../contract/instance-params.ts';
import { ErrorBody } from '../http/error-handler.ts';
import {
  authenticatedPrincipal,
  instanceRoute,
  tokenRoute,
  type InstanceAccessHooks,
} from '../http/auth.ts';
import {
  instanceListQuery,
  instanceListResponse,
  uploadHistoryResponse,
  type UploadHistory,
} from './console-query.schema.ts';
import type { PostgresInstanceListViews } from './instance-list-views.ts';

export interface ConsoleQueryRoutesDeps {
  instances: Pick<PostgresInstanceListViews, 'page'>;
  uploads: { find(instance: string): Promise<UploadHistory> };
  /** The POST's token check and access to :instance (401/404). */
  access: InstanceAccessHooks;
}

const tokenHeader = z.object({
  token: z.string().optional().describe('TokenAccount or TokenInstance.'),
});

/**
 * The reads the console needs beyond the configuration routes: the instances a token may act on,
 * and each instance's recent upload outcomes.
 */
export function consoleQueryRoutes(deps: ConsoleQueryRoutesDeps) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/api/instances',
      {
        ...tokenRoute(deps.access, 'Failed to list instances'),
        schema: {
          summary: 'List instances',
          description:
            "The instances the token may act on, by name: every instance of an account token's account, or an instance token's own instance. Each with whether S3 storage is enabled, its bucket and the media-upload worker's latest outcome.",
          headers: tokenHeader,
          querystring: instanceListQuery,
          response: {
            200: instanceListResponse,
            400: ErrorBody,
            401: ErrorBody,
            429: ErrorBody,
            500: ErrorBody,
          },
        },
      },
      async (request) => ({
        success: true as const,
        ...(await deps.instances.page(authenticatedPrincipal(request), request.query)),
      }),
    );
    app.get(
      '/api/instance/s3/:instance/uploads',
      {
        ...instanceRoute(deps.access, 'Failed to read upload outcomes'),
        schema: {
          summary: 'Upload outcomes',
          description:
            "The media-upload worker's recent outcomes for the instance: completed and failed uploads per hour over the last day, and the last 20 outcomes.",
          params: instanceParams,
          headers: tokenHeader,
          response: {
            200: uploadHistoryResponse,
            400: ErrorBody,
            401: ErrorBody,
            404: ErrorBody,
            429: ErrorBody,
            500: ErrorBody,
          },
        },
      },
      async (request) => ({
        success: true as const,
        ...(await deps.uploads.find(request.params.instance)),
      }),
    );
  };
}
