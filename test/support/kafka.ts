import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { UploadCompleted, UploadFailed } from '../../src/workers/media-upload/outcomes.ts';

/** Topic and group names of their own, so that test files and runs never meet. */
export function uniqueWorkerNames() {
  const run = randomUUID().slice(0, 8);
  return {
    requested: `test-${run}-upload-requested`,
    completed: `test-${run}-upload-completed`,
    failed: `test-${run}-upload-failed`,
    group: `test-${run}-media-upload`,
  };
}

export type WorkerNames = ReturnType<typeof uniqueWorkerNames>;

/** The settings a worker over these names needs, on top of the services'. */
export function workerEnv(names: WorkerNames): Record<string, string> {
  return {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '',
    STOWAGE_TOPIC_UPLOAD_REQUESTED: names.requested,
    STOWAGE_TOPIC_UPLOAD_COMPLETED: names.completed,
    STOWAGE_TOPIC_UPLOAD_FAILED: names.failed,
    STOWAGE_CONSUMER_GROUP: names.group,
    STOWAGE_ALLOW_PRIVATE_ENDPOINTS: 'true',
    STOWAGE_KAFKA_SESSION_TIMEOUT_MS: '6000',
  };
}

/** Removes the topics and the consumer groups of these names. */
export async function deleteTopics(kafka: Kafka, names: WorkerNames): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = [names.requested, names.completed, names.failed].filter((t) => existing.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    // eslint-disable-next-line no-restricted-syntax -- cleanup: group names are unique to this run, a leftover disturbs nothing
    await admin.deleteGroups([names.group, `${names.group}-observer`]).catch(() => {});
  } finally {
    await admin.disconnect();
  }
}

export interface UploadRequestMessage {
  id: string;
  instance: string;
  contentType: string;
  source: { base64: string } | { url: string };
  fileName?: string;
  sha256?: string;
  metadata?: Record<string, string>;
}

export async function sendRequests(
  producer: Producer,
  topic: string,
  requests: readonly (UploadRequestMessage | { key: string; value: string })[],
): Promise<void> {
  await producer.send({
    topic,
    messages: requests.map((request) =>
      'value' in request && typeof request.value === 'string'
        ? request
        : { key: (request as UploadRequestMessage).instance, value: JSON.stringify(request) },
    ),
  });
}

/** Every outcome the worker publishes, by message id, as a platform consumer would see them. */
export class OutcomeCollector {
  readonly completed = new Map<string, UploadCompleted[]>();
  readonly failed = new Map<string, UploadFailed[]>();

  private constructor(private readonly consumer: Consumer) {}

  /** After a worker made the topics: the broker does not create them on demand. */
  static async start(kafka: Kafka, names: WorkerNames): Promise<OutcomeCollector> {
    const consumer = kafka.consumer({ groupId: `${names.group}-observer`, maxWaitTimeInMs: 200 });
    const collector = new OutcomeCollector(consumer);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [names.completed, names.failed], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, message }) => {
          const body = JSON.parse(String(message.value));
          const into = topic === names.completed ? collector.completed : collector.failed;
          const id = String(body.id);
          into.set(id, [...(into.get(id) ?? []), body]);
        },
      });
    } catch (error) {
      await consumer.disconnect();
      throw error;
    }
    return collector;
  }

  /** The single outcome of `id`, once there is one. */
  async outcomeOf(
    id: string,
    timeoutMs = 30_000,
  ): Promise<{ completed: UploadCompleted | undefined; failed: UploadFailed | undefined }> {
    await this.waitFor(
      () => this.completed.has(id) || this.failed.has(id),
      timeoutMs,
      `outcome of ${id}`,
    );
    return { completed: this.completed.get(id)?.[0], failed: this.failed.get(id)?.[0] };
  }

  async waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
