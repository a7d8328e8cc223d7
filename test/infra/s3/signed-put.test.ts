import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import { createS3Client } from '../../../src/infra/s3/s3-client.ts';
import { putObject } from '../../../src/infra/s3/signed-put.ts';
import { createTestBucket, removeTestBucket, testS3Client } from '../../support/buckets.ts';
import { startScriptedEndpoint, type ScriptedEndpoint } from '../../support/scripted-endpoint.ts';
import { s3TestServer } from '../../support/services.ts';

const md5 = (bytes: Buffer) => `"${createHash('md5').update(bytes).digest('hex')}"`;

/** Counts the PutObject commands a client sends through the SDK's own stack. */
function countingSdkPuts(client: S3Client): { count: number } {
  const counted = { count: 0 };
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'PutObjectCommand') counted.count += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countSdkPuts' },
  );
  return counted;
}

const keys = [
  'media/one/3f2a.jpg',
  'media/one/with space & ünïcode/(1)!*.png',
  "media/one/quote'd/a+b=c?d#e%41.txt",
];

describe('putObject against the real S3 server', () => {
  const s3 = testS3Client();
  const agents = createGuardedAgents({ allowPrivate: true });
  const connection = { ...agents, timeoutMs: 10_000, exchangeWithinMs: 20_000 };
  let bucket: string;
  before(async () => (bucket = await createTestBucket(s3)));
  after(async () => {
    await removeTestBucket(s3, bucket);
    agents.destroy();
  });

  test('stores each object byte for byte, with its type and metadata, without the SDK stack', async () => {
    const client = createS3Client(s3TestServer(), connection);
    const sdkPuts = countingSdkPuts(client);
    for (const key of keys) {
      const bytes = randomBytes(10 * 1024);
      const object = {
        Bucket: bucket,
        Key: key,
        ContentType: 'image/png',
        Metadata: { origin: 'signed put', 'request-id': 'r-1' },
      };
      assert.equal(await putObject(client, object, bytes), md5(bytes));
      const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      assert.deepEqual(Buffer.from(await stored.Body!.transformToByteArray()), bytes, key);
      assert.equal(stored.ContentType, 'image/png');
      assert.deepEqual(stored.Metadata, { origin: 'signed put', 'request-id': 'r-1' });
    }
    assert.equal(sdkPuts.count, 0);
  });

  test("a PUT the server refuses is made again through the SDK, whose error is the caller's", async () => {
    const client = createS3Client(
      { ...s3TestServer(), secretAccessKey: 'not-the-secret' },
      { ...connection, maxAttempts: 1 },
    );
    const sdkPuts = countingSdkPuts(client);
    const object = { Bucket: bucket, Key: 'refused', ContentType: 'text/plain' };
    await assert.rejects(putObject(client, object, Buffer.from('x')), {
      name: 'SignatureDoesNotMatch',
    });
    assert.equal(sdkPuts.count, 1);
  });
});

describe('putObject against an endpoint that misbehaves', () => {
  const agents = createGuardedAgents({ allowPrivate: true });
  let scripted: ScriptedEndpoint;
  before(async () => (scripted = await startScriptedEndpoint()));
  after(async () => {
    agents.destroy();
    await scripted.close();
  });
  const location = () => ({
    region: 'us-east-1',
    endpoint: scripted.url,
    accessKeyId: 'AKIATEST',
    secretAccessKey: 'test-secret',
  });
  const object = { Bucket: 'b', Key: 'k', ContentType: 'text/plain' };

  test('an answer other than 200 sends the PUT again through the SDK', async () => {
    // One try per SDK send: the second request can only be this module's own second try.
    const client = createS3Client(location(), {
      ...agents,
      timeoutMs: 5_000,
      exchangeWithinMs: 5_000,
      maxAttempts: 1,
    });
    const sdkPuts = countingSdkPuts(client);
    let answered = 0;
    scripted.answer = (_request, response) => {
      answered += 1;
      if (answered === 1) response.writeHead(503).end('<Error><Code>SlowDown</Code></Error>');
      else response.writeHead(200, { etag: '"second"' }).end();
    };
    scripted.requests = 0;
    assert.equal(await putObject(client, object, Buffer.from('x')), '"second"');
    assert.equal(scripted.requests, 2);
    assert.equal(sdkPuts.count, 1);
  });

  test('a stop abandons the PUT in flight, and it is not tried again', async () => {
    const stopping = new AbortController();
    const client = createS3Client(location(), {
      ...agents,
      timeoutMs: 15_000,
      exchangeWithinMs: 15_000,
      abandonOn: stopping.signal,
    });
    const sdkPuts = countingSdkPuts(client);
    scripted.answer = () => {}; // never answers
    scripted.requests = 0;
    setTimeout(() => stopping.abort(new Error('stopping')), 200);
    const started = Date.now();
    await assert.rejects(putObject(client, object, Buffer.from('x')), { name: 'AbortError' });
    assert.ok(Date.now() - started < 5_000);
    assert.equal(scripted.requests, 1);
    assert.equal(sdkPuts.count, 0);
  });
});
