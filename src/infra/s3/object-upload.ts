import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { putObject } from './signed-put.ts';
import { uploadStream } from './streamed-upload.ts';

export interface ObjectUpload {
  client: S3Client;
  bucket: string;
  key: string;
  /** A stream of any length, or bytes already in memory (which fit one PUT). */
  body: Readable | Buffer;
  contentType: string;
  metadata?: Record<string, string>;
  signal: AbortSignal;
}

/**
 * Stores `body` as the object `key` and answers its ETag (without the quotes S3 puts around it).
 * Bytes in memory go in one PUT; a stream in one PUT when it fits a part, a multipart upload
 * otherwise (see uploadStream).
 *
 * Aborting `signal` abandons the upload: nothing more is read or sent, a multipart upload is
 * aborted on the server, and this rejects. A PUT in flight ends with the client's connection
 * (S3Connection.abandonOn), which the worker aborts with the same stop; a part in flight is
 * answered first, so that no part is stored after the abort (BoundedHttpHandler).
 */
export async function uploadObject(input: ObjectUpload): Promise<string> {
  const { client, body, signal } = input;
  const object = {
    Bucket: input.bucket,
    Key: input.key,
    ContentType: input.contentType,
    ...(input.metadata ? { Metadata: input.metadata } : {}),
  };
  signal.throwIfAborted();
  if (Buffer.isBuffer(body)) {
    // A PUT in flight is abandoned by the client's connection (S3Connection.abandonOn).
    return unquoted(await putObject(client, object, body));
  }
  const abandon = () => body.destroy(signal.reason as Error);
  signal.addEventListener('abort', abandon, { once: true });
  try {
    return unquoted(await uploadStream(client, object, body));
  } finally {
    signal.removeEventListener('abort', abandon);
  }
}

function unquoted(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}
