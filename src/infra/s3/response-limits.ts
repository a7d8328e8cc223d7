import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import type { S3Client, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-s3';
import type { DeserializeMiddleware } from '@smithy/types';

/**
 * How much of an answer S3 may send, and for how long. Whatever this service asks of S3 (a put,
 * a part, a head, a delete) is answered with a few hundred bytes of XML at most, but the SDK
 * reads any answer's whole body into memory and waits for its end as long as bytes keep coming:
 * an endpoint answering with gigabytes, or a byte every few seconds, would take the process down
 * or hold its request for ever.
 */
export interface ResponseLimits {
  maxBytes: number;
  /** From the answer's headers to its body's last byte. */
  withinMs: number;
}

export class S3ResponseTooLargeError extends Error {
  readonly code = 'ERESPONSETOOLARGE';
  constructor(maxBytes: number) {
    super(`the endpoint's answer exceeded ${maxBytes} bytes`);
    this.name = 'S3ResponseTooLargeError';
  }
}

export class S3ResponseTooSlowError extends Error {
  readonly code = 'ERESPONSETOOSLOW';
  constructor(withinMs: number) {
    super(`the endpoint's answer did not end within ${withinMs} ms`);
    this.name = 'S3ResponseTooSlowError';
  }
}

/** Puts every answer the client receives through the limits, before the SDK reads it. */
export function limitResponses(client: S3Client, limits: ResponseLimits): void {
  const limitBody: DeserializeMiddleware<ServiceInputTypes, ServiceOutputTypes> =
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { body?: unknown };
      if (response.body instanceof Readable) response.body = limited(response.body, limits);
      return result;
    };
  client.middlewareStack.addRelativeTo(limitBody, {
    name: 'stowageResponseLimits',
    // Inside the deserializer: the raw answer, as the connection hands it over.
    relation: 'after',
    toMiddleware: 'deserializerMiddleware',
  });
}

function limited(body: Readable, { maxBytes, withinMs }: ResponseLimits): Readable {
  let bytes = 0;
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) done(new S3ResponseTooLargeError(maxBytes));
      else done(null, chunk);
    },
  });
  const timer = setTimeout(() => checked.destroy(new S3ResponseTooSlowError(withinMs)), withinMs);
  timer.unref();
  // Either failing destroys the connection's body too, so no more of it is read.
  pipeline(body, checked, () => clearTimeout(timer));
  return checked;
}
