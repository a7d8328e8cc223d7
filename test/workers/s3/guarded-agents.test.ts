import assert from 'node:assert/strict';
import { createServer, get, type Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { createGuardedAgents } from '../../../src/infra/s3/guarded-agents.ts';
import { createS3Client } from '../../../src/infra/s3/s3-client.ts';
import { describeS3Failure } from '../../../src/infra/s3/s3-failure.ts';

let port: number;
let connections = 0;
const server = createServer((_request, response) => response.end('inside'));
server.on('connection', () => connections++);

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function fetchVia(agent: Agent, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const refused = (error: { code?: string }) => error.code === 'ESTOWAGEREFUSED';

test('private addresses are refused, by literal or by a name resolving to them, before connecting', async () => {
  const agents = createGuardedAgents({ allowPrivate: false });
  try {
    const before = connections;
    await assert.rejects(fetchVia(agents.httpAgent, `http://127.0.0.1:${port}/`), refused);
    await assert.rejects(fetchVia(agents.httpAgent, `http://localhost:${port}/`), refused);
    assert.equal(connections, before, 'nothing reached the server');
  } finally {
    agents.destroy();
  }
});

test('with private endpoints allowed they connect; link-local and metadata addresses never do', async () => {
  const agents = createGuardedAgents({ allowPrivate: true });
  try {
    assert.equal(await fetchVia(agents.httpAgent, `http://127.0.0.1:${port}/`), 'inside');
    assert.equal(await fetchVia(agents.httpAgent, `http://localhost:${port}/`), 'inside');
    await assert.rejects(fetchVia(agents.httpAgent, 'http://169.254.169.254/latest/'), refused);
    await assert.rejects(fetchVia(agents.httpAgent, 'http://[fd00:ec2::254]/latest/'), refused);
  } finally {
    agents.destroy();
  }
});

test('an S3 client on the guarded agents reports a refused endpoint as permanent', async () => {
  const agents = createGuardedAgents({ allowPrivate: true });
  try {
    const s3 = createS3Client(
      {
        region: 'us-east-1',
        endpoint: 'http://169.254.169.254',
        accessKeyId: 'a',
        secretAccessKey: 'b',
      },
      { ...agents, timeoutMs: 2_000, exchangeWithinMs: 10_000 },
    );
    const error = await s3.send(new HeadBucketCommand({ Bucket: 'media' })).catch((e) => e);
    const failure = describeS3Failure(error);
    assert.equal(failure.code, 'ESTOWAGEREFUSED');
    assert.equal(failure.transient, false);
  } finally {
    agents.destroy();
  }
});
