import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeS3Failure } from '../../../src/infra/s3/s3-failure.ts';

const s3Error = (name: string, status: number, message = 'server text') =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

test('credential and bucket errors are permanent and said plainly', () => {
  const signature = describeS3Failure(s3Error('SignatureDoesNotMatch', 403));
  assert.deepEqual(signature, {
    code: 'SignatureDoesNotMatch',
    reason:
      'S3 rejected the request signature: the secret key does not match the access key (SignatureDoesNotMatch, HTTP 403)',
    transient: false,
  });
  assert.equal(describeS3Failure(s3Error('InvalidAccessKeyId', 403)).transient, false);
  assert.equal(
    describeS3Failure(s3Error('NoSuchBucket', 404)).reason,
    'the bucket does not exist (NoSuchBucket, HTTP 404)',
  );
  // HEAD answers have no body: the SDK only knows the status.
  assert.equal(describeS3Failure(s3Error('NotFound', 404)).code, 'NoSuchBucket');
  assert.equal(describeS3Failure(s3Error('InvalidArgument', 400)).transient, false);
});

test('server trouble, throttling, timeouts and refused connections are transient', () => {
  for (const error of [
    s3Error('InternalError', 500),
    s3Error('SlowDown', 503),
    s3Error('Unknown', 502),
    s3Error('TooManyRequests', 429),
    Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:9000'), { code: 'ECONNREFUSED' }),
    Object.assign(new Error('timed out'), { name: 'TimeoutError' }),
  ]) {
    assert.equal(describeS3Failure(error).transient, true, String(error));
  }
});

test('the reason never repeats the error message, which is the server talking', () => {
  const failure = describeS3Failure(s3Error('AccessDenied', 403, 'secret=hunter2'));
  assert.ok(!failure.reason.includes('hunter2'));
  const odd = describeS3Failure(new Error('password=hunter2'));
  assert.ok(!odd.reason.includes('hunter2'));
  assert.equal(odd.transient, true);
});

test('an address the SSRF guard refused is permanent', () => {
  const refused = Object.assign(new Error('x'), {
    code: 'ESTOWAGEREFUSED',
    problem: 'must not point at a link-local or metadata address',
  });
  assert.deepEqual(describeS3Failure(refused), {
    code: 'ESTOWAGEREFUSED',
    reason:
      'the endpoint is refused: its address must not point at a link-local or metadata address',
    transient: false,
  });
});
