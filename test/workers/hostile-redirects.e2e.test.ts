import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { hostileHosts, withPort } from '../infra/network/hostile-hosts.ts';
import { bucketConfig, objectKeys } from '../support/buckets.ts';
import { sendRequests } from '../support/kafka.ts';
import { startUploadPipeline, type UploadPipeline } from '../support/upload-pipeline.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

/**
 * Through the real worker and broker: media URLs that redirect to addresses refused even where
 * private endpoints are allowed (these tests need that, the S3 server is on loopback), in every
 * notation. Each ends as one permanent failed outcome, with nothing stored and no connection.
 */
const neverAllowed = hostileHosts.filter(([name]) =>
  /metadata|link-local|zone|unspecified|multicast|broadcast|reserved|documentation|benchmarking|local-use/.test(
    name,
  ),
);

let pipeline: UploadPipeline;
let instance: string;
let targetPort: number;
let connections = 0;
const targets: Server[] = [];
const redirector = createHttpServer((request, response) => {
  const to = new URL(request.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
  response.writeHead(302, { location: to }).end();
});

function listen(host: string, port: number): Promise<Server | undefined> {
  const server = createServer((socket) => socket.destroy());
  server.on('connection', () => connections++);
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => resolve(server));
  });
}

before(async () => {
  const v4 = await listen('127.0.0.1', 0);
  targetPort = (v4!.address() as AddressInfo).port;
  targets.push(v4!);
  const v6 = await listen('::1', targetPort);
  if (v6) targets.push(v6);
  await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));

  pipeline = await startUploadPipeline();
  instance = await pipeline.service.createInstance();
  await pipeline.service.configure(instance, bucketConfig(pipeline.bucket, 'hostile/'));
});

after(async () => {
  await pipeline?.close();
  redirector.closeAllConnections();
  await new Promise((resolve) => redirector.close(resolve));
  await Promise.all(targets.map((target) => new Promise((resolve) => target.close(resolve))));
});

test('every redirect to a never-allowed address ends as one permanent failed outcome', async () => {
  const redirectorPort = (redirector.address() as AddressInfo).port;
  const requests = neverAllowed.map(([name, url]) => ({
    name,
    id: randomUUID(),
    instance,
    contentType: 'text/plain',
    source: {
      url: `http://127.0.0.1:${redirectorPort}/?to=${encodeURIComponent(withPort(url, targetPort))}`,
    },
  }));
  assert.ok(requests.length >= 20, `only ${requests.length} forms`);
  await sendRequests(
    pipeline.producer,
    pipeline.names.requested,
    requests.map(({ name: _name, ...request }) => request),
  );
  for (const { name, id } of requests) {
    const { failed, completed } = await pipeline.outcomes.outcomeOf(id);
    assert.equal(completed, undefined, name);
    assert.match(
      failed?.code ?? '',
      /^source-(refused|rejected)$/,
      `${name}: ${JSON.stringify(failed)}`,
    );
    assert.equal(failed?.retryable, false, name);
    assert.equal(failed?.attempts, 1, name);
  }
  for (const { id } of requests) assert.equal(pipeline.outcomes.failed.get(id)?.length, 1);
  assert.deepEqual(await objectKeys(pipeline.s3, pipeline.bucket), []);
  assert.equal(connections, 0, 'a hostile address was reached');
});
