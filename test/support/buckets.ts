import { randomUUID } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/infra/s3/s3-client.ts';
import { s3TestServer } from './services.ts';

/**
 * The configuration a customer POSTs for a bucket on the test S3 server: enabled, its credentials,
 * under a prefix of its own when given one.
 */
export function bucketConfig(bucket: string, pathPrefix?: string) {
  const server = s3TestServer();
  return {
    enabled: true,
    region: server.region,
    bucket,
    accessKey: server.accessKeyId,
    secretKey: server.secretAccessKey,
    endpoint: server.endpoint,
    ...(pathPrefix === undefined ? {} : { pathPrefix }),
  };
}

export function testS3Client(): S3Client {
  return createS3Client(s3TestServer());
}

export async function createTestBucket(s3: S3Client): Promise<string> {
  const bucket = `worker-${randomUUID().slice(0, 13)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export async function objectKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }),
    );
    keys.push(...(page.Contents ?? []).map((object) => object.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

export async function multipartUploadsIn(s3: S3Client, bucket: string) {
  return (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
}

export async function objectText(s3: S3Client, bucket: string, key: string) {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { text: await object.Body!.transformToString(), contentType: object.ContentType };
}

/** Empties the bucket (objects and unfinished multipart uploads) and deletes it. */
export async function removeTestBucket(s3: S3Client, bucket: string): Promise<void> {
  for (const upload of await multipartUploadsIn(s3, bucket)) {
    await s3.send(
      new AbortMultipartUploadCommand({
        Bucket: bucket,
        Key: upload.Key,
        UploadId: upload.UploadId,
      }),
    );
  }
  for (const key of await objectKeys(s3, bucket)) {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
