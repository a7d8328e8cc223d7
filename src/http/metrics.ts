import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UploadMetrics } from '../workers/media-upload/upload-metrics.ts';

export interface ServiceMetrics {
  registry: Registry;
  uploads: UploadMetrics;
}

export interface MetricsOptions {
  /** Seconds the projection is behind the event log; read when /metrics is scraped. */
  projectionLagSeconds?: () => Promise<number>;
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
  return {
    registry,
    uploads: {
      uploadFinished(outcome, code, seconds, size) {
        uploads.inc({ outcome, code });
        duration.observe({ outcome }, seconds);
        bytes.inc(size);
      },
      retryScheduled(code) {
        retries.inc({ code });
      },
      consumerLag(topic, partition, messages) {
        consumerLag.set({ topic, partition: String(partition) }, messages);
      },
    },
  };
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
