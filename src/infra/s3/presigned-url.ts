import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/**
 * A GET URL for one object that works without credentials until it expires, and the object's
 * plain URL (the same without the signature).
 */
export async function presignedGetUrl(
  client: S3Client,
  bucket: string,
  key: string,
  ttlSeconds: number,
  now: Date,
): Promise<{ url: string; objectUrl: string; expiresAt: Date }> {
  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: ttlSeconds,
    signingDate: now,
  });
  return {
    url,
    objectUrl: url.split('?')[0]!,
    expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
  };
}
