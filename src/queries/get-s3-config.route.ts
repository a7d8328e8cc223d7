import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { LogPosition } from '../commands/event-store.ts';
import { failureResponse, instanceParams } from '../commands/update-s3-config.schema.ts';
import type { InstanceAccessHooks } from '../http/auth.ts';
import {
  getS3ConfigHeaders,
  getS3ConfigQuery,
  getS3ConfigResponse,
  type S3ConfigView,
} from './s3-config-query.schema.ts';

export interface GetS3ConfigRouteDeps {
  views: { find(instance: string): Promise<S3ConfigView | undefined> };
  progress: { reach(position: LogPosition, timeoutMs: number): Promise<boolean> };
  /** The POST's token check and access to :instance (401/404). */
  access: InstanceAccessHooks;
  /** How long a read-your-writes request waits for the projection; 2 s unless told. */
  minPositionWaitMs?: number;
}

const unconfigured: S3ConfigView = {
  enabled: false,
  region: '',
  bucket: '',
  accessKey: '',
  endpoint: '',
  pathPrefix: '',
  updatedAt: null,
  revision: null,
  uploadStatus: null,
};

/** GET /api/instance/s3/:instance — the configuration as projected; never the secret. */
export function getS3ConfigRoute(deps: GetS3ConfigRouteDeps) {
  const waitMs = deps.minPositionWaitMs ?? 2000;
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/api/instance/s3/:instance',
      {
        config: { failureMessage: 'Failed to read S3 configuration', rateLimit: {} },
        onRequest: deps.access.authenticate,
        preValidation: deps.access.authorizeInstance,
        schema: {
          summary: 'Get S3',
          description:
            'The S3 storage configuration of the instance, without the secret key. After a POST, pass its x-stowage-position as minPosition (or the x-stowage-min-position header) to read your own change: the answer waits up to 2 s for it, then comes anyway with x-stowage-stale: true.',
          params: instanceParams,
          querystring: getS3ConfigQuery,
          headers: getS3ConfigHeaders,
          response: {
            200: getS3ConfigResponse,
            400: failureResponse,
            401: failureResponse,
            404: failureResponse,
            429: failureResponse,
            500: failureResponse,
          },
        },
      },
      async (request, reply) => {
        const minPosition = request.query.minPosition ?? request.headers['x-stowage-min-position'];
        if (minPosition && !(await deps.progress.reach(minPosition, waitMs))) {
          reply.header('x-stowage-stale', 'true');
        }
        const view = await deps.views.find(request.params.instance);
        if (view?.revision != null) reply.header('etag', `"${view.revision}"`);
        return { success: true as const, s3: view ?? unconfigured };
      },
    );
  };
}
