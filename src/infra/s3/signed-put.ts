import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest, HttpResponse } from '@smithy/types';
import { knownBucketAddress, learnBucketAddress, type BucketAddress } from './bucket-address.ts';
import { perClient } from './per-client.ts';
import type { ObjectParams } from './streamed-upload.ts';

/**
 * Stores `body` in one PUT and answers the object's ETag, as `PutObjectCommand` would.
 *
 * The SDK's middleware stack (endpoint rules, serialization, its signer, retries, answer parsing)
 * cost about half a 10 KiB upload's CPU in a worker (bench/README.md). Once the bucket's address
 * is known, the PUT is signed here and sent on the client's own request handler, held to the
 * same limits and abandoned on the same stop. Only a 200 is taken from it: any other answer, or
 * a connection that failed, and the PUT is made again through the SDK, whose retries and errors
 * are then the caller's, exactly as before. What a second try cannot help, a stop or an answer
 * past its deadline, is passed on at once.
 */
export async function putObject(
  client: S3Client,
  object: ObjectParams,
  body: Buffer,
): Promise<string | undefined> {
  const address = await addressOf(client, object);
  if (address) {
    try {
      const { response } = await send(client, await signedPut(client, address, object, body));
      const answer = response.body as Readable | undefined;
      if (response.statusCode === 200) {
        if (answer) await finished(answer.resume());
        return response.headers['etag'];
      }
      answer?.destroy();
    } catch (error) {
      if (isFinal(error)) throw error;
    }
  }
  const put = new PutObjectCommand({ ...object, Body: body });
  try {
    // Sent without options, so that the client's cached middleware stack is used.
    return (await client.send(put)).ETag;
  } finally {
    // The client's cached stack keeps the first command it ran: not the media with it.
    delete put.input.Body;
  }
}

/** The bucket's address, learnt from a URL the SDK presigns when not known yet. */
async function addressOf(
  client: S3Client,
  object: ObjectParams,
): Promise<BucketAddress | undefined> {
  const { where, address } = await knownBucketAddress(client, object.Bucket);
  if (address) return address;
  const get = new GetObjectCommand({ Bucket: object.Bucket, Key: object.Key });
  return learnBucketAddress(where, await getSignedUrl(client, get, { expiresIn: 60 }), object.Key);
}

/** The client's signer, as the SDK signs S3 requests: the path as given, the payload's digest. */
const signerOf = perClient(
  ({ config }) =>
    new SignatureV4({
      credentials: config.credentials,
      region: config.region,
      service: 's3',
      sha256: config.sha256,
      uriEscapePath: false,
    }),
);

async function signedPut(
  client: S3Client,
  address: BucketAddress,
  object: ObjectParams,
  body: Buffer,
): Promise<HttpRequest> {
  const { protocol, hostname, port } = address.endpoint;
  const headers: Record<string, string> = {
    host: address.host,
    'content-type': object.ContentType,
    'content-length': String(body.length),
    'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
  };
  for (const [name, value] of Object.entries(object.Metadata ?? {})) {
    headers[`x-amz-meta-${name}`] = value;
  }
  const request = {
    method: 'PUT',
    protocol,
    hostname,
    ...(port === undefined ? {} : { port }),
    path: address.pathOf(object.Key),
    query: {},
    headers,
    body,
  };
  return signerOf(client).sign(request, {
    signingRegion: address.scope.region,
    signingService: address.scope.service,
  });
}

type Handler = { handle(request: HttpRequest): Promise<{ response: HttpResponse }> };

function send(client: S3Client, request: HttpRequest) {
  return (client.config.requestHandler as Handler).handle(request);
}

/** A stop, or an answer that did not come in time: the SDK's try would end the same way. */
function isFinal(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === 'AbortError' || code === 'ERESPONSETOOSLOW';
}
