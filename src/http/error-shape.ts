import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ApiError, failureBody, invalidRequestBody, type FieldProblem } from './api-error.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The message a store failure on this route answers with (the seed's 500 row). */
    failureMessage?: string;
  }
}

/**
 * The one place that turns errors into the contract's `{success:false,error:{message}}` shape.
 * Client mistakes get a 4xx saying what is wrong; anything else is a 500 whose cause goes to the
 * log only, since a driver's message may carry connection strings or query fragments.
 */
export const errorShape = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).send(failureBody(error.message, error.details));
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      // Typed here: the provider's own element type names a fastify path that does not resolve.
      const details: FieldProblem[] = error.validation.map(
        (problem: FastifySchemaValidationError) => ({
          field: fieldName(error.validationContext, problem.instancePath),
          message: problem.message ?? 'invalid',
        }),
      );
      return reply.code(400).send(failureBody(invalidRequestBody, details));
    }
    const clientError = clientErrors[error.code];
    if (clientError) {
      return reply.code(clientError.status).send(failureBody(clientError.message));
    }
    if (error.statusCode === 429) {
      return reply.code(429).send(failureBody(error.message));
    }
    request.log.error({ err: error }, 'request failed');
    const message = request.routeOptions.config.failureMessage ?? 'Internal server error';
    return reply.code(500).send(failureBody(message));
  });

  app.setNotFoundHandler((_request, reply) => reply.code(404).send(failureBody('Route not found')));
});

const clientErrors: Record<string, { status: number; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, message: invalidRequestBody },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: invalidRequestBody },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, message: invalidRequestBody },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, message: 'Request body too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    message: 'Unsupported content type: send application/json',
  },
  FST_ERR_BAD_URL: { status: 400, message: 'Invalid URL' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, message: 'Invalid request' },
};

function fieldName(context: string | undefined, instancePath: string): string {
  const path = instancePath.replace(/^\//, '').replaceAll('/', '.');
  if (context === 'params' || context === 'querystring' || context === 'headers') {
    return path ? `${context}.${path}` : context;
  }
  return path || 'body';
}
