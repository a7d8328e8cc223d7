import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { comparePositions, type LogPosition } from '../event-sourcing/event-store.ts';
import { instanceParams } from '../contract/instance-params.ts';
import { ErrorBody } from '../http/error-handler.ts';
import { instanceRoute, type InstanceAccessHooks } from '../http/auth.ts';
import {
  getS3ConfigHeaders,
  getS3ConfigQuery,
  getS3ConfigResponse,
  type S3ConfigView,
} from './s3-config-query.schema.ts';

export interface GetS3ConfigRouteDeps {
  views: { find(instance: string): Promise<S3ConfigView | undefined> };
  progress: { reach(position: LogPosition, timeoutMs: number): Promise<boolean> };
  /** What this process appended and the projection may not have reached yet (OwnWrites). */
  ownWrites: {
    pendingFor(instance: string): LogPosition | undefined;
    passed(position: LogPosition): void;
  };
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
        ...instanceRoute(deps.access, 'Failed to read S3 configuration'),
        schema: {
          summary: 'Get S3',
          description:
            "The S3 storage configuration of the instance, without the secret key. A change POSTed to the same server process is always included: the answer waits up to 2 s for the projection to reach it, then comes anyway with x-stowage-stale: true. When reading through another process than the one written to, pass the POST's x-stowage-position as minPosition (or the x-stowage-min-position header) to wait for it in the same way.",
          params: instanceParams,
          querystring: getS3ConfigQuery,
          headers: getS3ConfigHeaders,
          response: {
            200: getS3ConfigResponse,
            400: ErrorBody,
            401: ErrorBody,
            404: ErrorBody,
            429: ErrorBody,
            500: ErrorBody,
          },
        },
      },
      async (request, reply) => {
        const asked = request.query.minPosition ?? request.headers['x-stowage-min-position'];
        const wanted = latest(asked, deps.ownWrites.pendingFor(request.params.instance));
        if (wanted) {
          if (await deps.progress.reach(wanted, waitMs)) deps.ownWrites.passed(wanted);
          else reply.header('x-stowage-stale', 'true');
        }
        const view = await deps.views.find(request.params.instance);
        if (view?.revision != null) reply.header('etag', `"${view.revision}"`);
        return { success: true as const, s3: view ?? unconfigured };
      },
    );
  };
}

function latest(a: LogPosition | undefined, b: LogPosition | undefined): LogPosition | undefined {
  if (!a || !b) return a ?? b;
  return comparePositions(a, b) >= 0 ? a : b;
}
