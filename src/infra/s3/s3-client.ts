import { S3Client } from '@aws-sdk/client-s3';

export interface S3Location {
  region: string;
  /** Empty for AWS itself; the URL of an S3-compatible server otherwise. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * An S3 client that also works against S3-compatible servers (MinIO, Backblaze B2, DO Spaces,
 * S3Proxy): path-style addressing when an endpoint is set, since their buckets are rarely
 * resolvable as subdomains, and checksums only where the API requires them, since many such
 * servers reject the SDK's newer default x-amz-checksum-* headers.
 */
export function createS3Client(location: S3Location): S3Client {
  return new S3Client({
    region: location.region,
    ...(location.endpoint ? { endpoint: location.endpoint, forcePathStyle: true } : {}),
    credentials: {
      accessKeyId: location.accessKeyId,
      secretAccessKey: location.secretAccessKey,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
