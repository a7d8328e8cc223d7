/**
 * The baseline of bench:commands: a bare fastify route with the same JSON parsing and zod
 * validation as the POST route, answering at once. Run as a child process.
 */
import Fastify from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { instanceParams } from '../../src/contract/instance-params.ts';
import { updateS3ConfigBody } from '../../src/commands/update-s3-config.schema.ts';

const app = Fastify({ logger: false, bodyLimit: 16 * 1024 }).withTypeProvider<ZodTypeProvider>();
app.setValidatorCompiler(validatorCompiler);
app.setSerializerCompiler(serializerCompiler);
app.post(
  '/api/instance/s3/:instance',
  { schema: { params: instanceParams, body: updateS3ConfigBody({ allowPrivate: false }) } },
  async (request) => ({
    success: true,
    message: 'S3 configuration updated',
    s3: { enabled: request.body.enabled },
  }),
);
await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
