import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { bucketConfig } from '../../support/buckets.ts';
import { freshRead } from '../../support/fresh-read.ts';
import { sendRequests } from '../../support/kafka.ts';

/** POST /api/instance/s3/:instance as the platform calls it; resolves to the response. */
export async function postConfig(apiUrl: string, token: string, instance: string, body: object) {
  const response = await fetch(`${apiUrl}/api/instance/s3/${instance}`, {
    method: 'POST',
    headers: { token, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.text() };
}

/**
 * Resolves once the projection holds what this API process last appended for the instance: a
 * GET from the process that wrote waits for it. The worker reads the read model, so a message
 * sent before then would find the old configuration.
 */
export async function untilProjected(apiUrl: string, token: string, instance: string) {
  const response = await freshRead(
    async () => {
      const answer = await fetch(`${apiUrl}/api/instance/s3/${instance}`, { headers: { token } });
      await answer.body?.cancel();
      return answer;
    },
    (answer) => answer.status === 200 && answer.headers.get('x-stowage-stale') !== null,
  );
  if (response.status !== 200 || response.headers.get('x-stowage-stale') !== null) {
    throw new Error(`the projection did not reach ${instance}'s change (${response.status})`);
  }
}

/**
 * Live traffic: configuration POSTs to the instances through whichever API is current, and media
 * messages for them, until stopped. Every failed POST is kept, every message id sent too.
 */
export class DrillTraffic {
  apiUrl: string;
  readonly sent: string[] = [];
  readonly postFailures: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    apiUrl: string,
    private readonly deps: {
      token: string;
      instances: readonly string[];
      bucket: string;
      producer: Producer;
      topic: string;
    },
  ) {
    this.apiUrl = apiUrl;
    this.loops = [this.posting(), this.messaging()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private pick(): string {
    const { instances } = this.deps;
    return instances[Math.floor(Math.random() * instances.length)]!;
  }

  private async posting(): Promise<void> {
    for (let n = 0; this.running; n++) {
      const instance = this.pick();
      const body = bucketConfig(this.deps.bucket, `drill/${instance}/${n % 2}/`);
      const answer = await postConfig(this.apiUrl, this.deps.token, instance, body).catch(
        (error: unknown) => ({ status: 0, body: String(error) }),
      );
      if (answer.status !== 200) this.postFailures.push(`${answer.status} ${answer.body}`);
      await pause(100);
    }
  }

  private async messaging(): Promise<void> {
    while (this.running) {
      const batch = Array.from({ length: 3 }, () => ({
        id: randomUUID(),
        instance: this.pick(),
        contentType: 'text/plain',
        source: { base64: Buffer.from('drill media').toString('base64') },
      }));
      await sendRequests(this.deps.producer, this.deps.topic, batch);
      this.sent.push(...batch.map((request) => request.id));
      await pause(200);
    }
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
