import { meterMedia, tooLarge, type StreamedMedia } from './media-meter.ts';
import { openMediaUrl, type SourceConnection } from './media-source.ts';
import { UploadFailedError } from './upload-failure.ts';

/** What one media URL may cost: a slot for at most `timeoutMs`, at most `maxBytes` of storage. */
export interface DownloadLimits {
  timeoutMs: number;
  maxBytes: number;
}

/**
 * The media at a URL, metered, within the limits. The deadline runs from the first request until
 * the last byte is read, so a source that trickles (each read within the socket timeout) or never
 * ends fails for good instead of holding its slot and its partition; so does one that says or
 * turns out to be too large. Failing the body fails the upload reading it, which aborts its
 * multipart upload.
 */
export async function downloadMedia(
  url: string,
  expectedSha256: Buffer | undefined,
  connection: SourceConnection,
  limits: DownloadLimits,
  signal: AbortSignal,
): Promise<StreamedMedia> {
  const tooSlow = new UploadFailedError(
    'source-too-slow',
    `the media URL was not read completely within ${limits.timeoutMs / 1000} s`,
    false,
  );
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(tooSlow), limits.timeoutMs);
  let media: StreamedMedia;
  try {
    const source = await openMediaUrl(url, connection, AbortSignal.any([signal, deadline.signal]));
    media = meterMedia(source, expectedSha256, limits.maxBytes);
    if (Number(source.headers['content-length']) > limits.maxBytes) {
      media.release();
      throw tooLarge(limits.maxBytes);
    }
  } catch (error) {
    clearTimeout(timer);
    throw deadline.signal.aborted && !signal.aborted ? tooSlow : error;
  }
  deadline.signal.addEventListener('abort', () => media.fail(tooSlow), { once: true });
  for (const done of ['end', 'close']) media.body.once(done, () => clearTimeout(timer));
  return media;
}
