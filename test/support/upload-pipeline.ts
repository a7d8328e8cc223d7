import type { S3Client } from '@aws-sdk/client-s3';
import type { Kafka, Producer } from 'kafkajs';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { createTestBucket, removeTestBucket, testS3Client } from './buckets.ts';
import { ConfiguredService } from './configured-service.ts';
import { startTestWorker, type TestWorker } from './in-process-worker.ts';
import { deleteTopics, OutcomeCollector, uniqueWorkerNames, type WorkerNames } from './kafka.ts';
import { kafkaBrokers } from './services.ts';

/**
 * The upload pipeline against the real broker and S3 server: a configured service, a worker in
 * this process on topics of its own, a producer playing the platform, the outcomes collected, and
 * a bucket of its own. `close` takes down whatever was started, even by a start that failed.
 */
export interface UploadPipeline {
  service: ConfiguredService;
  kafka: Kafka;
  producer: Producer;
  s3: S3Client;
  bucket: string;
  names: WorkerNames;
  running: TestWorker;
  outcomes: OutcomeCollector;
  close(): Promise<void>;
}

export async function startUploadPipeline(): Promise<UploadPipeline> {
  const started: Partial<Omit<UploadPipeline, 'close'>> = {};
  const close = async () => {
    const { running, outcomes, producer, names, kafka, service, s3, bucket } = started;
    await running?.worker.stop();
    await outcomes?.stop();
    await producer?.disconnect();
    // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
    if (names && kafka) await deleteTopics(kafka, names).catch(() => {});
    await service?.close();
    if (s3 && bucket) await removeTestBucket(s3, bucket);
  };
  try {
    const kafka = (started.kafka = createKafka(
      kafkaBrokers(),
      'stowage-test',
      createLogger('error'),
    ));
    const s3 = (started.s3 = testS3Client());
    started.bucket = await createTestBucket(s3);
    const service = (started.service = await ConfiguredService.start());
    const names = (started.names = uniqueWorkerNames());
    const producer = (started.producer = kafka.producer());
    await producer.connect();
    started.running = await startTestWorker(service, names);
    started.outcomes = await OutcomeCollector.start(kafka, names);
    return { ...(started as Omit<UploadPipeline, 'close'>), close };
  } catch (error) {
    await close();
    throw error;
  }
}
