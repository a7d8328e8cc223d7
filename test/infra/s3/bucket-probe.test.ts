import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { probeBucket } from '../../../src/infra/s3/bucket-probe.ts';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import { createS3Client } from '../../../src/infra/s3/s3-client.ts';

// An endpoint that answers every request a byte of its status line every 200 ms: never idle for
// the connection's timeout, never done.
const sockets = new Set<Socket>();
const dripping = createServer((socket) => {
  sockets.add(socket);
  const line = Buffer.from('HTTP/1.1 200 OK\r\nx-padding: ' + 'a'.repeat(10_000));
  let sent = 0;
  const drip = setInterval(() => socket.write(line.subarray(sent, ++sent)), 200);
  socket.on('error', () => clearInterval(drip));
  socket.on('close', () => clearInterval(drip));
});
const agents = createGuardedAgents({ allowPrivate: true });
let endpoint: string;

before(async () => {
  await new Promise<void>((resolve) => dripping.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(dripping.address() as AddressInfo).port}`;
});
after(async () => {
  agents.destroy();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => dripping.close(resolve));
});

test(
  'a probe step is given up as a whole after its time, however the endpoint drips',
  { timeout: 20_000 },
  async () => {
    const client = createS3Client(
      { region: 'us-east-1', endpoint, accessKeyId: 'AKIATEST', secretAccessKey: 'test-secret' },
      { ...agents, timeoutMs: 1_000, maxAttempts: 1 },
    );
    const started = Date.now();
    const steps = await probeBucket(client, 'bucket', 'probe/', 1_000);
    const took = Date.now() - started;

    assert.ok(took < 5_000, `the probe took ${took} ms`);
    assert.deepEqual(
      steps.map(({ step, ok, skipped, code }) => ({ step, ok, skipped, code })),
      [
        { step: 'headBucket', ok: false, skipped: false, code: 'TimeoutError' },
        { step: 'putObject', ok: false, skipped: true, code: undefined },
        { step: 'deleteObject', ok: false, skipped: true, code: undefined },
      ],
    );
  },
);
