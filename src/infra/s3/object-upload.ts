import { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

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

// Memory per streamed upload is bounded by about partSize × (queueSize + 1) whatever the object's
// size, and so is the garbage each part leaves (its chunks, then the part itself) until V8
// collects it: S3's smallest part size, 5 MiB, keeps a worker streaming a 512 MiB object under
// its 200 MiB bound with Node's default heap settings (8 MiB parts needed smaller V8 spaces). One
// part at a time (the source waits while it is sent) keeps several concurrent uploads small;
// throughput comes from uploading several messages at once. 10,000 parts cap an object at 48 GiB.
const partSize = 5 * 1024 * 1024;
const queueSize = 1;

/**
 * Stores `body` as the object `key` and answers its ETag (without the quotes S3 puts around it).
 * Bytes in memory go in one PUT; a stream through lib-storage: one PUT when it fits a part, a
 * multipart upload otherwise.
 *
 * Aborting `signal` abandons the upload: reading stops, the parts in flight finish, then the
 * multipart upload is aborted on the server and this rejects. Aborting while parts are still
 * arriving (as Upload.abort() does) leaves those parts stored, and paid for, under the aborted id.
 */
export async function uploadObject(input: ObjectUpload): Promise<string> {
  const { client, bucket, key, body, signal } = input;
  const params = {
    Bucket: bucket,
    Key: key,
    Body: body,
    ContentType: input.contentType,
    ...(input.metadata ? { Metadata: input.metadata } : {}),
  };
  signal.throwIfAborted();
  if (!(body instanceof Readable)) {
    const { ETag } = await client.send(new PutObjectCommand(params), { abortSignal: signal });
    return unquoted(ETag);
  }
  const upload = new Upload({ client, partSize, queueSize, leavePartsOnError: false, params });
  const abandon = () => body.destroy(signal.reason as Error);
  signal.addEventListener('abort', abandon, { once: true });
  try {
    return unquoted((await upload.done()).ETag);
  } finally {
    signal.removeEventListener('abort', abandon);
  }
}

function unquoted(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}
