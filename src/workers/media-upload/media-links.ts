/**
 * The links a completed outcome hands to the platform's webhook consumers, who often store them:
 * a presigned URL dies with its TTL (7 days at most), so an instance with a publicBaseUrl (a CDN or
 * a public bucket) gets a link there that lasts, and the presigned one besides.
 */
export type MediaLinks =
  | { url: string; urlExpiresAt: string; presignedUrl?: never; presignedUrlExpiresAt?: never }
  | { url: string; urlExpiresAt?: never; presignedUrl: string; presignedUrlExpiresAt: string };

export function mediaLinks(
  key: string,
  presigned: { url: string; expiresAt: Date },
  publicBaseUrl: string | undefined,
): MediaLinks {
  const expiresAt = presigned.expiresAt.toISOString();
  if (publicBaseUrl === undefined) return { url: presigned.url, urlExpiresAt: expiresAt };
  return {
    url: publicObjectUrl(publicBaseUrl, key),
    presignedUrl: presigned.url,
    presignedUrlExpiresAt: expiresAt,
  };
}

/** `base` ends with '/'; each segment of the key is encoded, its slashes stay path separators. */
export function publicObjectUrl(base: string, key: string): string {
  return base + key.split('/').map(encodeURIComponent).join('/');
}
