import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { addressProblem } from '../../../src/infra/network/address-policy.ts';
import { guardedAgentsFor } from '../../../src/infra/s3/guarded-agents.ts';
import { openMediaUrl } from '../../../src/workers/media-upload/media-source.ts';
import { UploadFailedError } from '../../../src/workers/media-upload/upload-failure.ts';
import { hostileHosts, withPort } from '../../infra/network/hostile-hosts.ts';

/**
 * A media URL that redirects into our network, in every notation, fetched by the real download
 * path over the real guarded agents, as deployed (private addresses not allowed). The redirecting
 * server is on loopback too, so the agents are told to let exactly one connection through
 * unjudged: the first hop. Every redirect after it meets the policy, and the listener the
 * hostile URLs point at must never see a connection.
 */
let targetPort: number;
let connections = 0;
const targets: Server[] = [];
const redirector = createHttpServer((request, response) => {
  const to = new URL(request.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
  // A header carries ASCII only: what a server sends for a non-ASCII location.
  const location = to.replace(/[^\x20-\x7e]/gu, (char) => encodeURIComponent(char));
  response.writeHead(302, { location }).end();
});
let redirectorUrl: string;

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
  redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/`;
});

after(async () => {
  redirector.closeAllConnections();
  await new Promise((resolve) => redirector.close(resolve));
  await Promise.all(targets.map((server) => new Promise((resolve) => server.close(resolve))));
});

/** The deployed policy, but the first connection (to the redirecting server) goes through. */
function agentsAllowingFirstHop() {
  let firstHop = true;
  return guardedAgentsFor((address) => {
    if (firstHop) {
      firstHop = false;
      return undefined;
    }
    return addressProblem(address, { allowPrivate: false });
  });
}

describe('a media URL redirecting to a hostile host fails for good, without connecting:', () => {
  for (const [name, url] of hostileHosts) {
    test(name, async () => {
      const agents = agentsAllowingFirstHop();
      try {
        const location = `${redirectorUrl}?to=${encodeURIComponent(withPort(url, targetPort))}`;
        const failure = await openMediaUrl(
          location,
          { ...agents, timeoutMs: 5_000 },
          new AbortController().signal,
        ).then(
          () => assert.fail('the hostile redirect was followed'),
          (error: unknown) => error,
        );
        assert.ok(failure instanceof UploadFailedError, String(failure));
        const { code, reason, transient } = failure.failure;
        assert.equal(transient, false, reason);
        // Refused by the policy; an unparseable location or a name that resolves nowhere ends
        // the download too.
        assert.match(code, /^source-(refused|rejected|unavailable)$/, `${code}: ${reason}`);
        assert.equal(connections, 0, 'the listener was reached');
      } finally {
        agents.destroy();
      }
    });
  }

  test('the first hop itself was reached: the redirects were really followed', async () => {
    const agents = agentsAllowingFirstHop();
    try {
      const location = `${redirectorUrl}?to=${encodeURIComponent('http://192.0.2.1/')}`;
      await assert.rejects(
        openMediaUrl(location, { ...agents, timeoutMs: 5_000 }, new AbortController().signal),
        (error: unknown) =>
          error instanceof UploadFailedError &&
          error.failure.code === 'source-refused' &&
          /reserved/.test(error.failure.reason),
      );
    } finally {
      agents.destroy();
    }
  });
});
