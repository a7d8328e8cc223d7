import { Partitioners, type KafkaMessage } from 'kafkajs';
import type pg from 'pg';
import { isInstanceName } from '../../domain/instance-name.ts';
import { createKafka, kafkaSecurity } from '../../infra/kafka.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Pool } from '../../infra/postgres/pool.ts';
import { createGuardedAgents } from '../../infra/s3/guarded-agents.ts';
import type { InstanceKeyOpener } from '../../infra/s3/stored-s3-config.ts';
import { SettingsError, type Settings } from '../../settings.ts';
import { batchHandler } from './batch-handler.ts';
import { ConsumerHealth } from './consumer-health.ts';
import { OutcomePublisher } from './outcome-publisher.ts';
import { outcomeRecord, type UploadOutcome } from './outcomes.ts';
import { messageProcessor } from './process-message.ts';
import { StatusRecorder } from './status-recorder.ts';
import { ensureUploadTopics, uploadTopicsOf } from './topics.ts';
import type { UploadMetrics } from './upload-metrics.ts';
import { writeUploadStatuses, type UploadStatus } from './upload-status.ts';
import { recentUploadOf, UploadHistoryRecorder } from './upload-history.ts';
import { UploadTargets } from './upload-targets.ts';

// One request to a customer's endpoint ends within this, as a media download does: an 8 MiB part
// at 14 KiB/s, or S3 finishing a large multipart upload (it sends spaces while it works, for
// minutes). An endpoint dripping its answer would otherwise hold an upload slot, which every
// tenant shares, for ever.
const s3ExchangeWithinMs = 10 * 60_000;

export interface MediaUploadWorkerDeps {
  settings: Settings;
  pool: Pool;
  /** A dedicated connection for LISTEN, which a pooled one cannot hold. */
  connect: () => Promise<pg.Client>;
  /** Must hold the master key's private half (STOWAGE_SEAL_SECRET_KEY). */
  keyring: InstanceKeyOpener;
  logger: Logger;
  metrics?: UploadMetrics;
}

export interface MediaUploadWorker {
  /** For readiness: throws unless the consumer is in its group and running. */
  checkConsumer(): void;
  /**
   * Stops fetching, abandons the uploads in flight (their messages are delivered again), commits
   * what completed and disconnects, within STOWAGE_SHUTDOWN_TIMEOUT_MS.
   */
  stop(): Promise<void>;
}

/** The `worker` role: upload requests in, objects into each instance's bucket, outcomes out. */
export async function startMediaUploadWorker(
  deps: MediaUploadWorkerDeps,
): Promise<MediaUploadWorker> {
  const { settings, pool } = deps;
  if (!settings.KAFKA_BROKERS) {
    throw new SettingsError('invalid setting KAFKA_BROKERS: the worker role needs Kafka brokers');
  }
  const log = deps.logger.child({ component: 'media-upload-worker' });
  const topics = uploadTopicsOf(settings);
  const agents = createGuardedAgents({ allowPrivate: settings.STOWAGE_ALLOW_PRIVATE_ENDPOINTS });
  const stopping = new AbortController();
  const connection = {
    ...agents,
    timeoutMs: settings.STOWAGE_UPLOAD_SOCKET_TIMEOUT_MS,
    exchangeWithinMs: s3ExchangeWithinMs,
    abandonOn: stopping.signal,
  };
  const targets = new UploadTargets({
    pool,
    connect: deps.connect,
    keys: deps.keyring,
    connection,
    logger: log,
  });
  const kafka = createKafka(
    settings.KAFKA_BROKERS,
    'stowage-media-upload',
    log,
    kafkaSecurity(settings),
  );
  // The default (murmur2) partitioner, as Java clients use: explicit, and without kafkajs' warning.
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const sessionTimeout = settings.STOWAGE_KAFKA_SESSION_TIMEOUT_MS;
  const consumer = kafka.consumer({
    groupId: settings.STOWAGE_CONSUMER_GROUP,
    allowAutoTopicCreation: false,
    sessionTimeout,
    heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
    // Also how long a fetch with every partition paused sleeps: the granularity of resuming.
    maxWaitTimeInMs: 1_000,
    // A request as large as the topic allows fits one fetch (a larger one still arrives, alone,
    // and is refused as too large).
    maxBytesPerPartition: settings.STOWAGE_TOPIC_MAX_MESSAGE_BYTES,
    maxBytes: Math.max(10 * 1024 * 1024, settings.STOWAGE_TOPIC_MAX_MESSAGE_BYTES),
  });
  const consumerHealth = new ConsumerHealth(consumer);
  // Half the outcome topics' limit per request: far above any single (bounded) outcome.
  const publisher = new OutcomePublisher(
    (topicMessages) => producer.sendBatch({ topicMessages }),
    settings.STOWAGE_TOPIC_MAX_MESSAGE_BYTES / 2,
  );
  const recorder = new StatusRecorder((statuses) => writeUploadStatuses(pool, statuses), log);
  const history = new UploadHistoryRecorder(pool, log);
  const resumeTimers = new Set<NodeJS.Timeout>();

  const shutdown = async () => {
    stopping.abort();
    for (const timer of resumeTimers) clearTimeout(timer);
    // kafkajs waits for the batches in hand (they return at once, abandoned), commits the offsets
    // resolved so far and leaves the group.
    const steps = [
      () => consumer.disconnect(),
      () => producer.disconnect(),
      () => recorder.close(),
      () => history.close(),
      () => targets.close(),
    ];
    for (const step of steps) {
      await step().catch((error: unknown) =>
        log.warn({ err: error }, 'worker shutdown step failed'),
      );
    }
    agents.destroy();
  };

  try {
    await targets.start();
    // Creating topics and learning their metadata race on the broker: see whileRetriable.
    await whileRetriable(() => ensureUploadTopics(kafka, settings, log));
    await producer.connect();
    await consumer.connect();
    consumer.on(consumer.events.CRASH, ({ payload }) =>
      log.error({ err: payload.error, restart: payload.restart }, 'consumer crashed'),
    );
    // A new group starts at the beginning: requests sent before the first worker ran are not lost.
    await whileRetriable(() =>
      consumer.subscribe({ topic: topics.requested, fromBeginning: true }),
    );
    await consumer.run({
      eachBatchAutoResolve: false,
      // Every partition's batch in hand at once; how many uploads run is bounded below.
      partitionsConsumedConcurrently: batchesInHand,
      eachBatch: batchHandler({
        process: messageProcessor({
          targets,
          sourceConnection: connection,
          downloadLimits: {
            timeoutMs: settings.STOWAGE_MEDIA_DOWNLOAD_TIMEOUT_MS,
            maxBytes: settings.STOWAGE_MEDIA_MAX_BYTES,
          },
          presignTtlSeconds: settings.STOWAGE_PRESIGN_TTL_SECONDS,
          maxRequestBytes: settings.STOWAGE_TOPIC_MAX_MESSAGE_BYTES,
          now: () => new Date(),
        }),
        // Requests are keyed by instance: their configurations are read in one query per batch.
        readConfigs: (messages) => targets.readBatch(instancesKeying(messages)),
        publish: (outcome, requestKey) => {
          const { topic, message } = outcomeRecord(outcome, topics, requestKey);
          return publisher.publish(topic, message);
        },
        concurrency: settings.STOWAGE_UPLOAD_CONCURRENCY,
        published: (outcome) => {
          const status = statusOf(outcome, new Date());
          if (!status) return;
          recorder.record(status);
          history.record(recentUploadOf(status));
        },
        retryPolicy: {
          firstDelayMs: 250,
          maxDelayMs: settings.STOWAGE_UPLOAD_RETRY_DELAY_MAX_MS,
          maxElapsedMs: settings.STOWAGE_UPLOAD_RETRY_MAX_MS,
        },
        signal: stopping.signal,
        resumeLater: (resume, delayMs) => {
          const timer = setTimeout(() => {
            resumeTimers.delete(timer);
            resume();
          }, delayMs);
          resumeTimers.add(timer);
        },
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
        logger: log,
      }),
    });
  } catch (error) {
    await shutdown();
    throw error;
  }
  log.info({ topics, group: settings.STOWAGE_CONSUMER_GROUP }, 'media-upload worker started');

  let stopped: Promise<void> | undefined;
  return {
    checkConsumer: () => consumerHealth.check(),
    stop() {
      stopped ??= withinBound(shutdown(), settings.STOWAGE_SHUTDOWN_TIMEOUT_MS, () =>
        log.error(
          { timeoutMs: settings.STOWAGE_SHUTDOWN_TIMEOUT_MS },
          'worker shutdown did not finish in time; leaving the rest to the broker',
        ),
      );
      return stopped;
    },
  };
}

// Batches kafkajs hands over at once: one per partition, for as many partitions as a worker may
// be assigned. The uploads they start are bounded by STOWAGE_UPLOAD_CONCURRENCY.
const batchesInHand = 64;

function* instancesKeying(messages: readonly KafkaMessage[]): Iterable<string> {
  for (const { key } of messages) {
    const instance = key?.toString('utf8');
    if (instance !== undefined && isInstanceName(instance)) yield instance;
  }
}

function statusOf(outcome: UploadOutcome, at: Date): UploadStatus | undefined {
  const { instance } = outcome.body;
  if (instance === null || !isInstanceName(instance)) return undefined;
  return outcome.type === 'completed'
    ? { instance, lastUpload: { at, key: outcome.body.key } }
    : { instance, lastError: { at, reason: outcome.body.reason } };
}

async function withinBound(work: Promise<void>, ms: number, late: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      late();
      resolve();
    }, ms);
  });
  await Promise.race([work, deadline]);
  clearTimeout(timer);
}

/**
 * A topic created a moment ago may not be in every broker's metadata yet ("This server does not
 * host this topic-partition"): kafkajs marks such errors retriable, so start-up waits them out.
 */
async function whileRetriable<T>(work: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || (error as { retriable?: boolean }).retriable !== true) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
