import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { putObject } from './signed-put.ts';

/** The object a stream becomes: everything S3 needs but the bytes. */
export interface ObjectParams {
  Bucket: string;
  Key: string;
  ContentType: string;
  Metadata?: Record<string, string>;
}

/**
 * The AWS CLI's default part size and multipart threshold: an object up to 8 MiB goes in one PUT.
 * With S3's smallest part (5 MiB) an 8 MiB object was a four-request multipart upload, which cost
 * the S3 server (S3Proxy) 62–65 ms of CPU against 29–40 ms for one PUT (bench/README.md).
 * 10,000 parts cap an object at 78 GiB; an upload in flight holds one part.
 */
export const uploadPartSize = 8 * 1024 * 1024;
// Part buffers of uploads that ended, for the next ones: as many as uploads ran at once.
const spareParts: Buffer[] = [];

/**
 * Stores a stream of any length and answers the object's ETag: one PUT when it fits a part, a
 * multipart upload otherwise, one part at a time (the source waits while a part is sent;
 * throughput comes from uploading several messages at once).
 *
 * Each upload copies the stream into one part buffer, sent again and again and then kept for the
 * next upload: streamed objects leave no part-sized garbage behind. (lib-storage concatenated
 * every part into a new buffer; on Node 24 those outlive a scavenge while being sent, and dead
 * ones piled up to V8's 64 MiB external-memory limit before a full collection freed them.)
 *
 * A part is sent only once the stream has more after it, so the last part (or the only PUT) is
 * sent after the stream ended without error: a stream that fails at its end (a digest that does
 * not match) never completes an object. On any failure the multipart upload is aborted.
 */
export async function uploadStream(
  client: S3Client,
  object: ObjectParams,
  body: Readable,
): Promise<string | undefined> {
  const part = spareParts.pop() ?? Buffer.allocUnsafe(uploadPartSize);
  try {
    return await uploadThrough(part, client, object, body);
  } finally {
    // The SDK is done with it: every request that sent it has been answered.
    spareParts.push(part);
  }
}

async function uploadThrough(
  part: Buffer,
  client: S3Client,
  object: ObjectParams,
  body: Readable,
): Promise<string | undefined> {
  let filled = 0;
  let multipart: { uploadId: string; parts: CompletedPart[] } | undefined;
  const sendPart = async (bytes: Buffer) => {
    multipart ??= { uploadId: await createMultipartUpload(client, object), parts: [] };
    const PartNumber = multipart.parts.length + 1;
    const { ETag } = await client.send(
      new UploadPartCommand({
        Bucket: object.Bucket,
        Key: object.Key,
        UploadId: multipart.uploadId,
        PartNumber,
        Body: bytes,
        ContentLength: bytes.length,
      }),
    );
    multipart.parts.push({ PartNumber, ETag });
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let offset = 0; offset < chunk.length;) {
        if (filled === uploadPartSize) {
          await sendPart(part);
          filled = 0;
        }
        const copied = chunk.copy(part, filled, offset);
        filled += copied;
        offset += copied;
      }
    }
    if (!multipart) return await putObject(client, object, part.subarray(0, filled));
    await sendPart(part.subarray(0, filled));
    const { uploadId, parts } = multipart;
    const complete = new CompleteMultipartUploadCommand({
      Bucket: object.Bucket,
      Key: object.Key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
    });
    return (await client.send(complete)).ETag;
  } catch (error) {
    if (multipart) await abortMultipartUpload(client, object, multipart.uploadId);
    throw error;
  }
}

async function createMultipartUpload(client: S3Client, object: ObjectParams): Promise<string> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand(object));
  if (!UploadId) throw new Error('S3 started a multipart upload without an upload id');
  return UploadId;
}

/**
 * Leaves no parts stored under an abandoned upload. The failure that ended the upload is the one
 * reported: a failed abort (the server is down, say) leaves the parts to the bucket's lifecycle
 * rule for incomplete multipart uploads.
 */
async function abortMultipartUpload(
  client: S3Client,
  object: ObjectParams,
  uploadId: string,
): Promise<void> {
  const abort = new AbortMultipartUploadCommand({
    Bucket: object.Bucket,
    Key: object.Key,
    UploadId: uploadId,
  });
  await client.send(abort).catch(() => undefined);
}
