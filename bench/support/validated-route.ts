/**
 * The route the command benchmark's baselines share with the POST route: the same path, JSON
 * parsing and zod validation of params and body, then `work`, then a small answer. Listens on
 * PORT and HOST, as a child process of the benchmark.
 */
import Fastify from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { instanceParams } from '../../src/contract/instance-params.ts';
import { updateS3ConfigBody } from '../../src/commands/update-s3-config.schema.ts';

const body = updateS3ConfigBody({ allowPrivate: false });

export async function listenWithValidatedRoute(
  work: (instance: string, request: z.output<typeof body>) => Promise<void>,
): Promise<void> {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.post(
    '/api/instance/s3/:instance',
    { schema: { params: instanceParams, body } },
    async (request) => {
      await work(request.params.instance, request.body);
      return {
        success: true,
        message: 'S3 configuration updated',
        s3: { enabled: request.body.enabled },
      };
    },
  );
  await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
}
