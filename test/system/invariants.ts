import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Kafka } from 'kafkajs';
import type { UploadCompleted, UploadFailed } from '../../src/workers/media-upload/outcomes.ts';
import type { SentMessage, SystemInstance } from './workload.ts';

const run = promisify(execFile);

/** Every outcome on the outcome topics, and every raw value read from the given topics. */
export class TopicReader {
  readonly completed = new Map<string, UploadCompleted>();
  readonly failed = new Map<string, UploadFailed>();
  readonly duplicates: string[] = [];
  rawValues = 0;
  canarySeen = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: { completed: string; failed: string; all: string[] },
    private readonly canary: string,
  ) {}

  async start(group: string) {
    const consumer = this.kafka.consumer({ groupId: group, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics.all, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const value = String(message.value ?? '');
        this.rawValues += 1;
        if (value.includes(this.canary) || String(message.key ?? '').includes(this.canary)) {
          this.canarySeen = true;
        }
        if (topic !== this.topics.completed && topic !== this.topics.failed) return;
        const body = JSON.parse(value) as UploadCompleted | UploadFailed;
        const id = String(body.id);
        if (this.completed.has(id) || this.failed.has(id)) this.duplicates.push(id);
        if (topic === this.topics.completed) this.completed.set(id, body as UploadCompleted);
        else this.failed.set(id, body as UploadFailed);
      },
    });
    return () => consumer.disconnect();
  }

  terminal(id: string): boolean {
    return this.completed.has(id) || this.failed.has(id);
  }
}

/** Completed objects whose bytes at the outcome's key are not the bytes sent. */
export async function wrongObjects(
  s3: S3Client,
  sent: SentMessage[],
  reader: TopicReader,
): Promise<string[]> {
  const wrong: string[] = [];
  const queue = sent.filter((message) => reader.completed.has(message.id));
  const next = async (): Promise<void> => {
    const message = queue.pop();
    if (!message) return;
    const outcome = reader.completed.get(message.id)!;
    try {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: outcome.bucket, Key: outcome.key }),
      );
      const hash = createHash('sha256');
      for await (const chunk of object.Body as AsyncIterable<Buffer>) hash.update(chunk);
      if (hash.digest('hex') !== message.sha256) wrong.push(`${message.id}: other bytes`);
    } catch (error) {
      wrong.push(`${message.id}: ${(error as Error).name}`);
    }
    return next();
  };
  await Promise.all(Array.from({ length: 8 }, next));
  return wrong;
}

/** Objects written under a disabled instance's prefix after its disable was answered. */
export async function objectsAfterDisable(
  s3: S3Client,
  bucket: string,
  instances: SystemInstance[],
  prefixOf: (instance: SystemInstance) => string,
): Promise<string[]> {
  const late: string[] = [];
  for (const instance of instances.filter((candidate) => candidate.disabledAt)) {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefixOf(instance) }),
    );
    for (const object of page.Contents ?? []) {
      // S3 times have one-second resolution.
      if (object.LastModified!.getTime() > instance.disabledAt! + 1_000) late.push(object.Key!);
    }
  }
  return late;
}

/** Where the canary secret shows up: the database dump and the log files. */
export async function canaryPlaces(
  canary: string,
  databaseUrl: string,
  logFiles: string[],
): Promise<string[]> {
  const places: string[] = [];
  const { stdout } = await run('pg_dump', ['--no-owner', databaseUrl], { maxBuffer: 1 << 30 });
  if (stdout.includes(canary)) places.push('pg_dump');
  for (const file of logFiles) if (readFileSync(file, 'utf8').includes(canary)) places.push(file);
  return places;
}
