import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from './error-handler.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
// ASCII is UTF-8's first half: a body declared so decodes the same.
const utf8Names = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * JSON bodies are read as UTF-8, the only encoding JSON has between systems (RFC 8259, 8.1), and
 * only when they are UTF-8. fastify's own parser decodes any body as UTF-8 and turns what is not
 * into U+FFFD: a secret sent in Latin-1 with a `charset=iso-8859-1` was stored mangled, and
 * answered with a 200. A charset other than UTF-8 is now a 415, bytes that are not UTF-8 a 400;
 * the parsing itself, with its prototype-poisoning checks, stays fastify's.
 */
export const utf8JsonBodies = fp(async (app: FastifyInstance) => {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = charsetOf(request.headers['content-type'] ?? '');
    if (charset !== undefined && !utf8Names.has(charset)) {
      done(new ApiError('unsupported-charset'), undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(
        new ApiError('invalid-request-body', [{ field: 'body', message: 'is not valid UTF-8' }]),
        undefined,
      );
      return;
    }
    // fastify's parser answers through `done`, synchronously; its type allows a promise.
    void parseJson(request, text, done);
  });
});

/** The charset parameter of a media type, lower case and unquoted; undefined when absent. */
function charsetOf(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  if (!match) return undefined;
  return (match[1] ?? match[2] ?? '').toLowerCase();
}
