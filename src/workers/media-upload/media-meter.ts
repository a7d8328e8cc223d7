import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { countStreamedBytes } from '../../infra/young-garbage.ts';
import { sourceFailure } from './media-source.ts';
import { UploadFailedError } from './upload-failure.ts';

/** A request's media, ready to upload. */
export interface Media {
  body: Readable | Buffer;
  /** Bytes passed so far: the object's size once the upload is done. */
  size(): number;
  /** Lets go of the source (and its connection) when the upload ended early. */
  release(): void;
}

/** Media streamed from a source, which can also be failed from outside (a deadline). */
export interface StreamedMedia extends Media {
  body: Readable;
  /** Fails the body with `failure` (the upload reading it then fails) and closes the source. */
  fail(failure: UploadFailedError): void;
}

/** Media carried in the message: checked against the digest before anything is sent. */
export function inlineMedia(base64: string, expectedSha256: Buffer | undefined): Media {
  const bytes = Buffer.from(base64, 'base64');
  if (expectedSha256 && !createHash('sha256').update(bytes).digest().equals(expectedSha256)) {
    throw digestMismatch();
  }
  return { body: bytes, size: () => bytes.length, release: () => {} };
}

/**
 * Media streamed from a URL: passed through while counting it and, when the request names a
 * digest, hashing it. A mismatch fails the stream at its end, before the upload's last part (or
 * only PUT) is sent, so a corrupt object is never completed; so does a byte beyond `maxBytes`, at
 * once. Errors of the source are reported as the source's, not as S3's.
 */
export function meterMedia(
  source: Readable,
  expectedSha256: Buffer | undefined,
  maxBytes = Number.POSITIVE_INFINITY,
): StreamedMedia {
  const hash = expectedSha256 ? createHash('sha256') : undefined;
  let size = 0;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > maxBytes) return done(tooLarge(maxBytes));
      hash?.update(chunk);
      countStreamedBytes(chunk.length);
      done(null, chunk);
    },
    flush(done) {
      if (hash && !hash.digest().equals(expectedSha256!)) {
        done(digestMismatch());
      } else {
        done();
      }
    },
  });
  source.on('error', (error) => body.destroy(sourceFailure(error)));
  source.pipe(body);
  return {
    body,
    size: () => size,
    release: () => {
      if (!source.readableEnded) source.destroy();
    },
    fail: (failure) => {
      body.destroy(failure);
      source.destroy();
    },
  };
}

export function tooLarge(maxBytes: number): UploadFailedError {
  return new UploadFailedError(
    'source-too-large',
    `the media at the URL is larger than ${maxBytes} bytes`,
    false,
  );
}

function digestMismatch(): UploadFailedError {
  return new UploadFailedError(
    'sha256-mismatch',
    'the media does not match the sha256 digest of the request',
    false,
  );
}
