import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Media URLs served by the test: `/bytes/<n>` sends n bytes of a fixed pattern, generated as it
 * goes (so a large object never sits in the test's memory either); `?kbps=` slows it down.
 */
export interface MediaServer {
  url: (path: string) => string;
  close(): Promise<void>;
}

const block = Buffer.alloc(64 * 1024, 0);
for (let i = 0; i < block.length; i++) block[i] = (i * 31 + (i >> 8)) & 0xff;

/** The pattern's bytes from `offset`, at most `max` of them. */
function patternAt(offset: number, max: number): Buffer {
  const start = offset % block.length;
  return block.subarray(start, start + Math.min(block.length - start, max));
}

export function patternSha256(size: number): string {
  const hash = createHash('sha256');
  for (let hashed = 0; hashed < size;) {
    const chunk = patternAt(hashed, size - hashed);
    hash.update(chunk);
    hashed += chunk.length;
  }
  return hash.digest('hex');
}

export function patternBytes(size: number): Buffer {
  return Buffer.concat(
    Array.from({ length: Math.ceil(size / block.length) }, (_, i) =>
      patternAt(i * block.length, size - i * block.length),
    ),
  );
}

export async function startMediaServer(): Promise<MediaServer> {
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    if (status) return void response.writeHead(Number(status[1])).end();
    const bytes = /^\/bytes\/(\d+)$/.exec(url.pathname);
    if (!bytes) return void response.writeHead(404).end();
    const size = Number(bytes[1]);
    const bytesPerTick = url.searchParams.has('kbps')
      ? (Number(url.searchParams.get('kbps')) * 1024) / 10
      : Infinity;
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    let sent = 0;
    let windowStart = Date.now();
    let sentInWindow = 0;
    const pump = () => {
      while (sent < size) {
        if (Date.now() - windowStart >= 100) {
          windowStart = Date.now();
          sentInWindow = 0;
        }
        if (sentInWindow >= bytesPerTick)
          return void setTimeout(pump, 100 - (Date.now() - windowStart));
        const chunk = patternAt(sent, Math.min(size - sent, bytesPerTick - sentInWindow));
        sent += chunk.length;
        sentInWindow += chunk.length;
        if (!response.write(chunk)) return void response.once('drain', pump);
      }
      response.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
