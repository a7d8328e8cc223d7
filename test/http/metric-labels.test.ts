import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeLabel, createMetrics } from '../../src/http/metrics.ts';
import { describeS3Failure } from '../../src/infra/s3/s3-failure.ts';

/** The label sets of one metric's series, as the registry exports them. */
async function seriesOf(metrics: ReturnType<typeof createMetrics>, name: string) {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((one) => one.name === name);
  return (metric?.values ?? []).map((value) => value.labels);
}

test("a customer's server cannot create time series: unknown failure codes are all 'other'", async () => {
  const metrics = createMetrics();
  for (let i = 0; i < 500; i++) {
    // What an S3-compatible server of the customer's choosing can make the SDK report.
    const failure = describeS3Failure(
      Object.assign(new Error(`custom ${i}`), {
        name: `EvilCode${i}`,
        $metadata: { httpStatusCode: 400 + (i % 100) },
      }),
    );
    metrics.uploads.uploadFinished('failed', failure.code, 0.01, 0);
    metrics.uploads.retryScheduled(`custom-code-${i}`);
  }
  metrics.uploads.uploadFinished('failed', 'NoSuchBucket', 0.01, 0);
  metrics.uploads.uploadFinished('failed', 'source-refused', 0.01, 0);
  metrics.uploads.uploadFinished('completed', 'completed', 0.01, 10);

  const uploads = await seriesOf(metrics, 'stowage_media_uploads_total');
  assert.deepEqual(uploads.map(({ outcome, code }) => `${outcome}/${code}`).sort(), [
    'completed/completed',
    'failed/NoSuchBucket',
    'failed/other',
    'failed/source-refused',
  ]);
  const retries = await seriesOf(metrics, 'stowage_media_upload_retries_total');
  assert.deepEqual(
    retries.map(({ code }) => code),
    ['other'],
  );
});

test('known codes keep their names', () => {
  for (const code of [
    'SignatureDoesNotMatch',
    'ECONNREFUSED',
    'ESTOWAGEREFUSED',
    'storage-disabled',
  ]) {
    assert.equal(codeLabel(code), code);
  }
  assert.equal(codeLabel('SignatureDoesNotMatch2'), 'other');
});
