import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  DeleteObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { describeS3Failure } from './s3-failure.ts';

export type ProbeStepName = 'headBucket' | 'putObject' | 'deleteObject';

export interface ProbeStep {
  step: ProbeStepName;
  ok: boolean;
  /** Not tried, because an earlier step failed. */
  skipped: boolean;
  /** The failure's code (S3's, or the network's). */
  code?: string;
  message: string;
  durationMs: number;
}

/**
 * Checks, now, what uploads will need: the bucket answers to these credentials, and an object can
 * be written under the prefix (and removed again, leaving nothing behind).
 */
export async function probeBucket(
  client: S3Client,
  bucket: string,
  pathPrefix: string,
): Promise<ProbeStep[]> {
  const key = `${pathPrefix}stowage-probe-${randomUUID()}.txt`;
  const plan: [ProbeStepName, () => Promise<unknown>, string][] = [
    [
      'headBucket',
      () => client.send(new HeadBucketCommand({ Bucket: bucket })),
      `bucket ${bucket} exists and accepts the credentials`,
    ],
    [
      'putObject',
      () =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: 'stowage credential check\n',
            ContentType: 'text/plain',
          }),
        ),
      `wrote ${key}`,
    ],
    [
      'deleteObject',
      () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
      `deleted ${key}`,
    ],
  ];
  const steps: ProbeStep[] = [];
  for (const [step, run, success] of plan) {
    if (steps.some((done) => !done.ok)) {
      steps.push({ step, ok: false, skipped: true, message: 'skipped', durationMs: 0 });
      continue;
    }
    const started = performance.now();
    try {
      await run();
      steps.push({ step, ok: true, skipped: false, message: success, durationMs: since(started) });
    } catch (error) {
      const failure = describeS3Failure(error);
      steps.push({
        step,
        ok: false,
        skipped: false,
        code: failure.code,
        message: failure.reason,
        durationMs: since(started),
      });
    }
  }
  return steps;
}

function since(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
