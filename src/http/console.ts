import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './error-handler.ts';

/** The console's static files, shipped as they are: `src/console/`, beside the sources. */
export const consoleFolder = new URL('../console/', import.meta.url);

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// Only the page's own files run; nothing may frame it, and it sends no Referer to anyone.
const safetyHeaders = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/**
 * GET /console: the storage console, a few static files that use only the public HTTP API.
 * They are read once at start-up; the names are fixed, so no request picks a path on disk.
 */
export async function consoleRoutes(app: FastifyInstance): Promise<void> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of await readdir(consoleFolder)) {
    const type = contentTypes[extname(name)];
    if (type) files.set(name, { body: await readFile(new URL(name, consoleFolder)), type });
  }
  const index = files.get('index.html');
  if (!index) throw new Error(`the console's index.html is missing from ${consoleFolder.pathname}`);

  app.addHook('onSend', async (_request, reply) => {
    reply.headers(safetyHeaders);
  });
  const page = { schema: { hide: true } };
  app.get('/console', page, async (_request, reply) => reply.type(index.type).send(index.body));
  app.get<{ Params: { file: string } }>('/console/:file', page, async (request, reply) => {
    const file = request.params.file === '' ? index : files.get(request.params.file);
    if (!file) {
      return reply.code(404).send(errorBody('Route not found'));
    }
    return reply.type(file.type).send(file.body);
  });
}
