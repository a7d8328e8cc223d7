import { Readable, Transform, finished } from 'node:stream';
import { NodeHttpHandler, type NodeHttpHandlerOptions } from '@smithy/node-http-handler';

/**
 * How long one exchange with an S3 endpoint may take, and how much its answer may hold. What
 * this service sends S3 (a put, a part, a head, a delete) is answered with a few hundred bytes of
 * XML at most, yet the SDK reads any answer's whole body into memory and waits for it as long as
 * bytes keep coming: an endpoint answering with gigabytes, or a byte every few seconds (never
 * idle long enough for the socket's timeout), would take the process down or hold its request,
 * and the worker's slot, for ever.
 */
export interface ExchangeLimits {
  /** From sending the request to the answer's last byte. */
  exchangeWithinMs: number;
  answerMaxBytes: number;
  /** Aborting it abandons the exchanges in flight but a part's upload (a worker's shutdown). */
  abandonOn?: AbortSignal | undefined;
}

export class S3AnswerTooLargeError extends Error {
  readonly code = 'ERESPONSETOOLARGE';
  constructor(maxBytes: number) {
    super(`the endpoint's answer exceeded ${maxBytes} bytes`);
    this.name = 'S3AnswerTooLargeError';
  }
}

export class S3AnswerTooSlowError extends Error {
  readonly code = 'ERESPONSETOOSLOW';
  constructor(withinMs: number) {
    super(`the endpoint's answer did not arrive within ${withinMs} ms`);
    this.name = 'S3AnswerTooSlowError';
  }
}

type HandleArguments = Parameters<NodeHttpHandler['handle']>;

/** The SDK's Node handler, with every exchange held to the limits. */
export class BoundedHttpHandler extends NodeHttpHandler {
  constructor(
    options: NodeHttpHandlerOptions,
    private readonly limits: ExchangeLimits,
  ) {
    super(options);
  }

  override async handle(request: HandleArguments[0], options: HandleArguments[1] = {}) {
    const { exchangeWithinMs, answerMaxBytes } = this.limits;
    // One timer per exchange, cleared when it ends: AbortSignal.timeout would keep each one
    // for its full length, hundreds of thousands of them on a busy worker.
    const exchange = new AbortController();
    const tooSlow = () => exchange.abort(new S3AnswerTooSlowError(exchangeWithinMs));
    const timer = setTimeout(tooSlow, exchangeWithinMs);
    // The caller's own signal aborts as before. The connection's abandons the exchanges in
    // flight when it fires: one that starts later (aborting a multipart upload after a stop) runs.
    // A part is not abandoned but answered, within its deadline, so that the upload's abort comes
    // after it: a server that received a part whole stores it even when its client has gone, and
    // a part stored after its upload's abort stays stored (S3 says an abort may need repeating;
    // S3Proxy keeps it for ever, in no listing, and the bucket can no longer be deleted).
    const given = options.abortSignal as AbortSignal | undefined;
    const abandonOn = isPartUpload(request) ? undefined : this.limits.abandonOn;
    const passOn = (event: Event) => exchange.abort((event.target as AbortSignal).reason);
    if (given?.aborted) exchange.abort(given.reason);
    given?.addEventListener('abort', passOn, { once: true });
    abandonOn?.addEventListener('abort', passOn, { once: true });
    const ended = () => {
      clearTimeout(timer);
      given?.removeEventListener('abort', passOn);
      abandonOn?.removeEventListener('abort', passOn);
    };
    try {
      const { response } = await super.handle(request, {
        ...options,
        abortSignal: exchange.signal,
      });
      if (response.body instanceof Readable) {
        response.body = limited(response.body, answerMaxBytes, exchange.signal, ended);
      } else {
        ended();
      }
      return { response };
    } catch (error) {
      ended();
      const reason: unknown = exchange.signal.reason;
      throw reason instanceof S3AnswerTooSlowError ? reason : error;
    }
  }
}

function isPartUpload(request: HandleArguments[0]): boolean {
  return request.method === 'PUT' && request.query?.['partNumber'] !== undefined;
}

/** The answer's body, cut off past `maxBytes` or when the exchange is aborted. */
function limited(
  body: Readable,
  maxBytes: number,
  exchange: AbortSignal,
  ended: () => void,
): Readable {
  let bytes = 0;
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) done(new S3AnswerTooLargeError(maxBytes));
      else done(null, chunk);
    },
  });
  const aborted = () => checked.destroy(exchange.reason as Error);
  exchange.addEventListener('abort', aborted, { once: true });
  // Not stream.pipeline: it aborts an AbortController of its own when it finishes, whose
  // DOMException (with its stack) was 1% of a worker's CPU. Either failing destroys the other, so
  // that no more of the connection's body is read; finished() keeps listening for errors, so one
  // that comes while nobody reads waits for its reader instead of crashing the process.
  body.on('error', (error) => checked.destroy(error));
  finished(checked, () => {
    body.destroy();
    exchange.removeEventListener('abort', aborted);
    ended();
  });
  body.pipe(checked);
  return checked;
}
