import { presignedGetUrl } from '../../infra/s3/presigned-url.ts';
import { uploadObject } from '../../infra/s3/object-upload.ts';
import { downloadMedia, type DownloadLimits } from './media-download.ts';
import { mediaLinks } from './media-links.ts';
import { inlineMedia } from './media-meter.ts';
import type { SourceConnection } from './media-source.ts';
import { objectKey } from './object-key.ts';
import type { UploadCompleted } from './outcomes.ts';
import type { UploadRequest } from './upload-request.ts';
import type { UploadTarget } from './upload-targets.ts';

export interface UploadMediaDeps {
  sourceConnection: SourceConnection;
  downloadLimits: DownloadLimits;
  presignTtlSeconds: number;
  now: () => Date;
}

/** Streams one request's media from its source (or the message) into the instance's bucket. */
export async function uploadMedia(
  request: UploadRequest,
  target: UploadTarget,
  deps: UploadMediaDeps,
  signal: AbortSignal,
): Promise<UploadCompleted> {
  const key = objectKey(target.pathPrefix, request.id, request.fileName, request.contentType);
  const { source } = request;
  const media =
    'base64' in source
      ? inlineMedia(source.base64, request.sha256)
      : await downloadMedia(
          source.url,
          request.sha256,
          deps.sourceConnection,
          deps.downloadLimits,
          signal,
        );
  try {
    const etag = await uploadObject({
      client: target.client,
      bucket: target.bucket,
      key,
      body: media.body,
      contentType: request.contentType,
      ...(request.metadata ? { metadata: request.metadata } : {}),
      signal,
    });
    const link = await presignedGetUrl(
      target.client,
      target.bucket,
      key,
      deps.presignTtlSeconds,
      deps.now(),
    );
    return {
      id: request.id,
      instance: request.instance,
      bucket: target.bucket,
      key,
      size: media.size(),
      etag,
      contentType: request.contentType,
      location: link.objectUrl,
      ...mediaLinks(key, link, target.publicBaseUrl),
    };
  } finally {
    media.release();
  }
}
