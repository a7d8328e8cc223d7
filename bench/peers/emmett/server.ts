/**
 * The peer of bench:commands: POST /api/instance/s3/:instance on Emmett's PostgreSQL event store
 * (`getPostgreSQLEventStore` + `DeciderCommandHandler`), behind fastify 5 with the same zod body,
 * written the way Emmett's documentation shows. Run as a child process:
 *   DATABASE_URL=… PEER_TOKENS=tokens.json node --import tsx bench/peers/emmett/server.ts
 * PEER_TOKENS holds {"<instance>": "<token>"}; DATABASE_POOL_SIZE (20) and LOG_LEVEL (info) match
 * the service's settings in the benchmark; it listens on PORT once its schema is migrated.
 */
import { readFileSync } from 'node:fs';
import { DeciderCommandHandler } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import Fastify from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import pg from 'pg';
import { instanceParams } from '../../../src/contract/instance-params.ts';
import {
  toS3ConfigRequest,
  updateS3ConfigBody,
} from '../../../src/commands/update-s3-config.schema.ts';
import { decide, evolve, initialState, S3ConfigRefused, type S3ConfigCommand } from './decider.ts';

const connectionString = process.env.DATABASE_URL!;
const tokens = new Map(
  Object.entries(JSON.parse(readFileSync(process.env.PEER_TOKENS!, 'utf8')) as object),
);

const pool = new pg.Pool({ connectionString, max: Number(process.env.DATABASE_POOL_SIZE ?? 20) });
const eventStore = getPostgreSQLEventStore(connectionString, {
  connectionOptions: { pool },
});
await eventStore.schema.migrate();

const handle = DeciderCommandHandler({
  decide,
  evolve,
  initialState,
  mapToStreamId: (instance) => `s3config-${instance}`,
});

const app = Fastify({
  logger: { level: process.env.LOG_LEVEL ?? 'info' },
  bodyLimit: 16 * 1024,
}).withTypeProvider<ZodTypeProvider>();
app.setValidatorCompiler(validatorCompiler);
app.setSerializerCompiler(serializerCompiler);

app.post(
  '/api/instance/s3/:instance',
  {
    onRequest: async (request, reply) => {
      const { instance } = request.params;
      if (tokens.get(instance) !== request.headers.token) {
        return reply.code(401).send({ success: false, error: { message: 'Invalid token' } });
      }
    },
    schema: { params: instanceParams, body: updateS3ConfigBody({ allowPrivate: false }) },
  },
  async (request, reply) => {
    const { instance } = request.params;
    const wanted = toS3ConfigRequest(request.body);
    const command: S3ConfigCommand = wanted.enabled
      ? { type: 'ConfigureS3', data: { instance, ...wanted } }
      : { type: 'DisableS3', data: { instance } };
    try {
      const { newState } = await handle(eventStore, instance, command);
      return {
        success: true,
        message: 'S3 configuration updated',
        s3:
          newState.status === 'enabled'
            ? { enabled: true, ...newState.settings }
            : { enabled: false },
      };
    } catch (error) {
      if (!(error instanceof S3ConfigRefused)) throw error;
      return reply.code(400).send({ success: false, error: { message: error.message } });
    }
  },
);

await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
process.once('SIGTERM', () => {
  void app.close().then(() => eventStore.close());
});
