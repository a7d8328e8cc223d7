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
 * be written under the prefix (and removed again, leaving nothing behind). Each step is given up
 * after `stepWithinMs` as a whole: an endpoint that answers a byte at a time is never idle long
 * enough for the connection's own timeouts, and the caller is waiting for this answer.
 */
export async function probeBucket(
  client: S3Client,
  bucket: string,
  pathPrefix: string,
  stepWithinMs: number,
): Promise<ProbeStep[]> {
  const key = `${pathPrefix}stowage-probe-${randomUUID()}.txt`;
  const plan: [
    ProbeStepName,
    (within: { abortSignal: AbortSignal }) => Promise<unknown>,
    string,
  ][] = [
    [
      'headBucket',
      (within) => client.send(new HeadBucketCommand({ Bucket: bucket }), within),
      `bucket ${bucket} exists and accepts the credentials`,
    ],
    [
      'putObject',
      (within) =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: 'stowage credential check\n',
            ContentType: 'text/plain',
          }),
          within,
        ),
      `wrote ${key}`,
    ],
    [
      'deleteObject',
      (within) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), within),
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
    const abortSignal = AbortSignal.timeout(stepWithinMs);
    try {
      await run({ abortSignal });
      steps.push({ step, ok: true, skipped: false, message: success, durationMs: since(started) });
    } catch (error) {
      const failure = abortSignal.aborted
        ? { code: 'TimeoutError', reason: `no complete answer within ${stepWithinMs} ms` }
        : describeS3Failure(error);
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
