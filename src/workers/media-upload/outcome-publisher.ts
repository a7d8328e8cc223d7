import type { Message, TopicMessages } from 'kafkajs';

interface Queued {
  topic: string;
  message: Message;
  sent(): void;
  failed(error: unknown): void;
}

/**
 * Sends outcomes as soon as nothing is being sent, and whatever arrives during a send together in
 * the next request (up to `maxBatchBytes`): no added wait when quiet, one produce request for many
 * outcomes when busy. Each publish resolves once the broker has acknowledged its request. When the
 * broker refuses a batch for good, its outcomes are sent again one by one, so that only the one
 * it refuses fails (the others may then be published twice, as after any redelivery).
 */
export class OutcomePublisher {
  private queued: Queued[] = [];
  private sending = false;

  constructor(
    private readonly send: (batch: TopicMessages[]) => Promise<unknown>,
    private readonly maxBatchBytes: number,
  ) {}

  publish(topic: string, message: Message): Promise<void> {
    return new Promise((sent, failed) => {
      this.queued.push({ topic, message, sent, failed });
      if (!this.sending) void this.sendQueued();
    });
  }

  private async sendQueued(): Promise<void> {
    this.sending = true;
    while (this.queued.length > 0) {
      const batch = this.takeBatch();
      try {
        await this.send(byTopic(batch));
        for (const outcome of batch) outcome.sent();
      } catch (error) {
        if (batch.length > 1 && isPermanentPublishFailure(error)) await this.sendAlone(batch);
        else for (const outcome of batch) outcome.failed(error);
      }
    }
    this.sending = false;
  }

  private takeBatch(): Queued[] {
    let bytes = 0;
    let count = 0;
    for (const { message } of this.queued) {
      bytes += sizeOf(message);
      if (count > 0 && bytes > this.maxBatchBytes) break;
      count++;
    }
    return this.queued.splice(0, count);
  }

  private async sendAlone(batch: readonly Queued[]): Promise<void> {
    for (const outcome of batch) {
      try {
        await this.send(byTopic([outcome]));
        outcome.sent();
      } catch (error) {
        outcome.failed(error);
      }
    }
  }
}

/**
 * kafkajs marks what retrying cannot fix (MESSAGE_TOO_LARGE, INVALID_RECORD, ...) as not
 * retriable; running out of retries on a failure that is (the broker away) is not permanent.
 */
export function isPermanentPublishFailure(error: unknown): boolean {
  const { retriable, name } = (error ?? {}) as { retriable?: unknown; name?: unknown };
  return retriable === false && name !== 'KafkaJSNumberOfRetriesExceeded';
}

function sizeOf(message: Message): number {
  const length = (part: Message['key']) =>
    part === null || part === undefined ? 0 : Buffer.byteLength(part);
  return length(message.key) + length(message.value);
}

function byTopic(batch: readonly Queued[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const { topic, message } of batch)
    topics.set(topic, [...(topics.get(topic) ?? []), message]);
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}
