import type { Logger } from '../../infra/logger.ts';
import type { UploadStatus } from './upload-status.ts';

const retryDelayMs = 1_000;

/**
 * Records outcomes off the upload path: what is pending is merged per instance (only the latest
 * upload and the latest error matter) and written in one statement while the next ones arrive.
 * Best effort: a status that cannot be written is retried, never a reason to redo an upload.
 */
export class StatusRecorder {
  private pending = new Map<string, UploadStatus>();
  private writing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly write: (statuses: readonly UploadStatus[]) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  record(status: UploadStatus): void {
    this.merge(status);
    this.startWriting();
  }

  /** Writes what is pending, with one last try if the write in progress failed. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.writing;
    if (this.pending.size > 0) await this.writePending();
  }

  private startWriting(): void {
    if (this.writing || this.retry || this.closed) return;
    this.writing = this.writePending().finally(() => (this.writing = undefined));
  }

  private async writePending(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.write([...batch.values()]);
      } catch (error) {
        for (const status of batch.values()) this.merge(status);
        this.logger.warn({ err: error }, 'could not record upload statuses');
        if (this.closed) return;
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.startWriting();
        }, retryDelayMs);
        this.retry.unref();
        return;
      }
    }
  }

  private merge(status: UploadStatus): void {
    const known = this.pending.get(status.instance);
    const lastUpload = newest(known?.lastUpload, status.lastUpload);
    const lastError = newest(known?.lastError, status.lastError);
    this.pending.set(status.instance, {
      instance: status.instance,
      ...(lastUpload ? { lastUpload } : {}),
      ...(lastError ? { lastError } : {}),
    });
  }
}

function newest<T extends { at: Date }>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a || !b) return a ?? b;
  return b.at >= a.at ? b : a;
}
