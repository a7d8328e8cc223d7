import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { S3ConfigRejectedError } from '../domain/s3-config.ts';
import { StowageError, type ErrorCode } from '../shared/errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The message a store failure on this route answers with (the seed's 500 row). */
    failureMessage?: string;
  }
}

/** The contract's error body: what every non-2xx answer carries. */
export const ErrorBody = z.object({
  success: z.literal(false),
  error: z.object({
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
});
export type ErrorBody = z.output<typeof ErrorBody>;
export type FieldProblem = NonNullable<ErrorBody['error']['details']>[number];

export function errorBody(message: string, details?: readonly FieldProblem[]): ErrorBody {
  return { success: false, error: details ? { message, details: [...details] } : { message } };
}

/** The contract's fixed messages for the errors raised by the HTTP layer itself. */
export const clientMessages = {
  'invalid-request-body': 'Invalid request body',
  'unsupported-charset': 'Unsupported charset: send JSON in UTF-8',
  'invalid-token': 'Invalid token',
  'instance-not-found': 'Instance not found',
  'rate-limited': 'Rate limit exceeded. Try again later.',
  's3-not-enabled': 'S3 storage is not enabled for this instance: send the settings to test',
  'no-worker': 'No worker available to test stored credentials',
  'worker-late': 'The worker did not finish testing the stored credentials in time',
} as const satisfies Partial<Record<ErrorCode, string>>;

/** A request the service turns down; `details` names the fields at fault. */
export class ApiError extends StowageError {
  declare readonly code: keyof typeof clientMessages;

  constructor(
    code: keyof typeof clientMessages,
    readonly details?: readonly FieldProblem[],
  ) {
    super(code, clientMessages[code]);
  }
}

/**
 * How each code is answered: a fixed message, or the error's own message where it is written for
 * the client, or (`internal`) the route's 500 message with the cause logged only, since such a
 * message may carry connection strings, key ids or query fragments.
 */
type Answer = { status: number; message: string } | { status: number; ownMessage: true };
const internal = 'internal';

export const answers: Record<ErrorCode, Answer | typeof internal> = {
  'invalid-request-body': { status: 400, message: clientMessages['invalid-request-body'] },
  'unsupported-charset': { status: 415, message: clientMessages['unsupported-charset'] },
  'invalid-token': { status: 401, message: clientMessages['invalid-token'] },
  'instance-not-found': { status: 404, message: clientMessages['instance-not-found'] },
  'rate-limited': { status: 429, message: clientMessages['rate-limited'] },
  's3-not-enabled': { status: 400, message: clientMessages['s3-not-enabled'] },
  'no-worker': { status: 503, message: clientMessages['no-worker'] },
  'worker-late': { status: 504, message: clientMessages['worker-late'] },
  'secret-required': { status: 400, message: clientMessages['invalid-request-body'] },
  'revision-mismatch': { status: 412, ownMessage: true },
  'concurrent-change': {
    status: 409,
    message: 'S3 configuration is being changed concurrently. Try again.',
  },
  'invalid-setting': internal,
  'stream-conflict': internal,
  'poison-event': internal,
  'replay-busy': internal,
  'checkpoint-moved': internal,
  'checkpoint-of-another-log': internal,
  'upload-failed': internal,
  'access-change-rejected': internal,
  'master-key-unavailable': internal,
  'secret-context-mismatch': internal,
  'stored-secret-unusable': internal,
  ESTOWAGEREFUSED: internal,
};

/**
 * The one place that turns errors into the contract's error body. Client mistakes get a 4xx
 * saying what is wrong; anything else is a 500 whose cause goes to the log only.
 */
export const errorHandler = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError | StowageError, request, reply) => {
    if (error instanceof StowageError) {
      const answer = answers[error.code];
      if (answer !== internal) {
        const message = 'ownMessage' in answer ? error.message : answer.message;
        return reply.code(answer.status).send(errorBody(message, detailsOf(error)));
      }
    } else if (hasZodFastifySchemaValidationErrors(error)) {
      // Typed here: the provider's own element type names a fastify path that does not resolve.
      const details: FieldProblem[] = error.validation.map(
        (problem: FastifySchemaValidationError) => ({
          field: fieldName(error.validationContext, problem.instancePath),
          message: problem.message ?? 'invalid',
        }),
      );
      return reply.code(400).send(errorBody(clientMessages['invalid-request-body'], details));
    } else {
      const clientError = fastifyClientErrors[error.code];
      if (clientError) {
        return reply.code(clientError.status).send(errorBody(clientError.message));
      }
      if (error.statusCode === 429) {
        return reply.code(429).send(errorBody(error.message));
      }
    }
    request.log.error({ err: error }, 'request failed');
    const message = request.routeOptions.config.failureMessage ?? 'Internal server error';
    return reply.code(500).send(errorBody(message));
  });

  app.setNotFoundHandler((_request, reply) => reply.code(404).send(errorBody('Route not found')));
});

function detailsOf(error: StowageError): readonly FieldProblem[] | undefined {
  if (error instanceof ApiError) return error.details;
  if (error instanceof S3ConfigRejectedError && error.code === 'secret-required') {
    return [{ field: error.field ?? 'body', message: error.message }];
  }
  return undefined;
}

const fastifyClientErrors: Record<string, { status: number; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, message: clientMessages['invalid-request-body'] },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, message: clientMessages['invalid-request-body'] },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    message: clientMessages['invalid-request-body'],
  },
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

/**
 * Answers what Node's HTTP parser refuses before fastify sees a request (a header section too
 * large, a request not received in time, conflicting lengths, a control character in a header),
 * in the contract's body like every other error, and closes the connection, as Node does.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request headers too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request not received in time']
        : [400, 'Malformed HTTP request'];
  if (socket.writable) {
    const body = JSON.stringify(errorBody(message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
