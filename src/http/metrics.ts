import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { knownS3FailureCodes } from '../infra/s3/s3-failure.ts';
import type { UploadMetrics } from '../workers/media-upload/upload-metrics.ts';

export interface ServiceMetrics {
  registry: Registry;
  uploads: UploadMetrics;
}

export interface MetricsOptions {
  /** Seconds the projection is behind the event log; read when /metrics is scraped. */
  projectionLagSeconds?: () => Promise<number>;
  /** Master key ids that instance keys are sealed to and this process does not hold. */
  masterKeysUnavailable?: () => number;
}

/**
 * The service's Prometheus metrics, in a registry of its own (not prom-client's global one), so
 * that several services in one process, as in the tests, do not collide.
 */
export function createMetrics(options: MetricsOptions = {}): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const uploads = new Counter({
    name: 'stowage_media_uploads_total',
    help: 'Upload requests handled, by outcome and failure code.',
    labelNames: ['outcome', 'code'],
    registers,
  });
  const bytes = new Counter({
    name: 'stowage_media_upload_bytes_total',
    help: 'Bytes of media stored.',
    registers,
  });
  const duration = new Histogram({
    name: 'stowage_media_upload_duration_seconds',
    help: 'Time from taking a request to having its outcome, per attempt that ended it.',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const retries = new Counter({
    name: 'stowage_media_upload_retries_total',
    help: 'Transient upload failures that paused their partition for a retry.',
    labelNames: ['code'],
    registers,
  });
  const consumerLag = new Gauge({
    name: 'stowage_kafka_consumer_lag_messages',
    help: 'Upload requests waiting behind the last one handled, per partition.',
    labelNames: ['topic', 'partition'],
    registers,
  });
  const projectionLag = options.projectionLagSeconds;
  if (projectionLag) {
    new Gauge({
      name: 'stowage_projection_lag_seconds',
      help: 'Age of the oldest event the read model has not applied yet (0 when caught up).',
      registers,
      async collect() {
        // An event store that does not answer in time must not take every other metric down.
        this.set(await projectionLag().catch(() => Number.NaN));
      },
    });
  }
  const unavailable = options.masterKeysUnavailable;
  if (unavailable) {
    new Gauge({
      name: 'stowage_master_keys_unavailable',
      help: 'Master keys that instance keys are sealed to and this worker does not hold (each fails its uploads with master-key-unavailable).',
      registers,
      collect() {
        this.set(unavailable());
      },
    });
  }
  return {
    registry,
    uploads: {
      uploadFinished(outcome, code, seconds, size) {
        uploads.inc({ outcome, code: codeLabel(code) });
        duration.observe({ outcome }, seconds);
        bytes.inc(size);
      },
      retryScheduled(code) {
        retries.inc({ code: codeLabel(code) });
      },
      consumerLag(topic, partition, messages) {
        consumerLag.set({ topic, partition: String(partition) }, messages);
      },
    },
  };
}

// The worker's own outcome codes.
const workerCodes = [
  'completed',
  'invalid-message',
  'storage-disabled',
  'storage-misconfigured',
  'config-unavailable',
  'source-rejected',
  'source-refused',
  'source-unavailable',
  'sha256-mismatch',
  'message-too-large',
  'outcome-unpublishable',
  'source-too-slow',
  'source-too-large',
  'master-key-unavailable',
];
const labelledCodes: ReadonlySet<string> = new Set([...workerCodes, ...knownS3FailureCodes]);

/**
 * A failure code as a label value: each value is a time series of its own, and a customer's S3
 * server can answer any error name it likes, so only known codes are kept.
 */
export function codeLabel(code: string): string {
  return labelledCodes.has(code) ? code : 'other';
}

/** GET /metrics in Prometheus' text format. */
export function metricsRoute(metrics: ServiceMetrics) {
  return async (app: FastifyInstance) => {
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  };
}
