/** What the worker reports for monitoring; the metrics endpoint implements it. */
export interface UploadMetrics {
  uploadFinished(
    outcome: 'completed' | 'failed',
    code: string,
    seconds: number,
    bytes: number,
  ): void;
  retryScheduled(code: string): void;
  /** Messages after the one just handled, up to the partition's high watermark. */
  consumerLag(topic: string, partition: number, messages: number): void;
}
