import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { EventStore } from '../event-sourcing/event-store.ts';
import { instanceParams } from '../contract/instance-params.ts';
import { ErrorBody } from '../http/error-handler.ts';
import { instanceRoute, type InstanceAccessHooks } from '../http/auth.ts';
import { instanceStream } from '../domain/s3-config.ts';
import { readHistoryPage } from './s3-config-history.ts';
import { historyQuery, historyResponse } from './s3-config-query.schema.ts';

export interface GetS3ConfigHistoryRouteDeps {
  eventStore: Pick<EventStore, 'readStream'>;
  /** The POST's token check and access to :instance (401/404). */
  access: InstanceAccessHooks;
}

/**
 * GET /api/instance/s3/:instance/history — the audit trail, read from the event store itself
 * (the read model keeps only the latest state).
 */
export function getS3ConfigHistoryRoute(deps: GetS3ConfigHistoryRouteDeps) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/api/instance/s3/:instance/history',
      {
        ...instanceRoute(deps.access, 'Failed to read S3 configuration'),
        schema: {
          summary: 'S3 history',
          description:
            'Every change of the S3 configuration, oldest first: when, by which token, and which fields changed from what to what. A new secret key shows only as "changed".',
          params: instanceParams,
          querystring: historyQuery,
          response: {
            200: historyResponse,
            400: ErrorBody,
            401: ErrorBody,
            404: ErrorBody,
            429: ErrorBody,
            500: ErrorBody,
          },
        },
      },
      async (request) => {
        const stream = instanceStream(request.params.instance);
        const page = await readHistoryPage(deps.eventStore, stream, request.query);
        return { success: true as const, ...page };
      },
    );
  };
}
