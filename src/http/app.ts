import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyReply } from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { requestLineLogger, type Logger } from '../infra/logger.ts';
import { answerClientError, errorBody, errorHandler } from './error-handler.ts';
import { healthRoutes, type ReadinessCheck } from './health.ts';
import { utf8JsonBodies } from './json-body.ts';

export interface AppOptions {
  logger: Logger;
  readiness: readonly ReadinessCheck[];
  /**
   * How long a request, headers and body, may take to arrive (30 s): such a request arrives in
   * milliseconds, and one still arriving holds a connection, and its caller's place, for nothing.
   */
  requestTimeoutMs?: number;
}

// The command body is a handful of short strings; anything larger is not a request we serve.
const bodyLimitBytes = 16 * 1024;
// How often Node looks for requests past their time (its default, 30 s, would double the wait).
const requestTimeoutCheckMs = 5_000;

export function buildApp({ logger, readiness, requestTimeoutMs = 30_000 }: AppOptions) {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: bodyLimitBytes,
    // fastify's default is never. Node 20 holds a request whose body is still arriving to the
    // headers' timeout, so that is the same.
    requestTimeout: requestTimeoutMs,
    http: { connectionsCheckingInterval: requestTimeoutCheckMs, headersTimeout: requestTimeoutMs },
    clientErrorHandler: answerClientError,
    requestIdHeader: false,
    genReqId: requestIdOf,
    // One line per request (below) instead of fastify's two: half the log volume on the hot path.
    logController: new LogController({ disableRequestLogging: true }),
    // Errors fastify raises before routing (an undecodable URL) bypass the error handler.
    frameworkErrors: (_error, _request, reply: FastifyReply) => {
      // The reply is thenable; sending is all there is to do, and send reports its own failure.
      void reply.code(400).send(errorBody('Invalid URL'));
    },
  }).withTypeProvider<ZodTypeProvider>();
  // Only JSON is served; without this, text/plain bodies would reach validation as strings
  // instead of getting a 415.
  app.removeContentTypeParser('text/plain');
  app.register(utf8JsonBodies);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const requestLines = requestLineLogger(logger);
  app.addHook('onResponse', async (request, reply) => {
    // A route may log less (the health probes log only warnings).
    const { values } = requestLines.levels;
    if ((values[request.log.level] ?? 0) > values.info!) return;
    requestLines.info(
      {
        reqId: request.id,
        method: request.method,
        route: request.routeOptions.url,
        statusCode: reply.statusCode,
        responseTimeMs: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request completed',
    );
  });
  app.register(errorHandler);
  app.register(healthRoutes(readiness));
  return app;
}

export type App = ReturnType<typeof buildApp>;

// A caller's own request id is kept (it correlates logs across services) when it looks like one.
function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
