import type { Message, TopicMessages } from 'kafkajs';

interface Queued {
  topic: string;
  message: Message;
  sent(): void;
  failed(error: unknown): void;
}

/**
 * Sends outcomes as soon as nothing is being sent, and whatever arrives during a send together in
 * the next request: no added wait when quiet, one produce request for many outcomes when busy.
 * Each publish resolves once the broker has acknowledged its request.
 */
export class OutcomePublisher {
  private queued: Queued[] = [];
  private sending = false;

  constructor(private readonly send: (batch: TopicMessages[]) => Promise<unknown>) {}

  publish(topic: string, message: Message): Promise<void> {
    return new Promise((sent, failed) => {
      this.queued.push({ topic, message, sent, failed });
      if (!this.sending) void this.sendQueued();
    });
  }

  private async sendQueued(): Promise<void> {
    this.sending = true;
    while (this.queued.length > 0) {
      const batch = this.queued;
      this.queued = [];
      try {
        await this.send(byTopic(batch));
        for (const outcome of batch) outcome.sent();
      } catch (error) {
        for (const outcome of batch) outcome.failed(error);
      }
    }
    this.sending = false;
  }
}

function byTopic(batch: readonly Queued[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const { topic, message } of batch)
    topics.set(topic, [...(topics.get(topic) ?? []), message]);
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}
