import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP relay to an S3 server that holds back the body of the first part uploaded through it
 * until `release()`: a server that has a part's request in hand and has not stored it yet. Its
 * headers go on at once, so the server's "100 Continue" reaches the client, which sends the body.
 * A client that hangs up meanwhile does not take the part back: the server still receives it,
 * as it would have.
 */
export interface PartHoldingRelay {
  endpoint: string;
  /** Resolves once the whole part has reached the relay. */
  partArrived: Promise<void>;
  /** Resolves once the server has answered the part. */
  partAnswered: Promise<void>;
  release(): void;
  close(): Promise<void>;
}

export async function startPartHoldingRelay(serverEndpoint: string): Promise<PartHoldingRelay> {
  const target = new URL(serverEndpoint);
  // What each connection holding a part sends on when released.
  const onRelease: (() => void)[] = [];
  let released = false;
  const release = () => {
    released = true;
    for (const sendOn of onRelease.splice(0)) sendOn();
  };
  let arrived!: () => void;
  const partArrived = new Promise<void>((resolve) => (arrived = resolve));
  let answered!: () => void;
  const partAnswered = new Promise<void>((resolve) => (answered = resolve));
  let partSeen = false;
  const sockets = new Set<Socket>();

  const relay = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    let held: Buffer[] | undefined;
    let bodyLeft = 0;
    upstream.on('data', (answer: Buffer) => {
      if (held && answer.toString('latin1').startsWith('HTTP/1.1 200')) answered();
      if (!client.destroyed) client.write(answer);
    });
    client.on('close', () => {
      if (!held) upstream.end();
    });
    client.on('data', (chunk: Buffer) => {
      if (!held && !partSeen && /^PUT \S*partNumber=/.test(chunk.toString('latin1', 0, 512))) {
        partSeen = true;
        const head = chunk.toString('latin1');
        const headEnd = head.indexOf('\r\n\r\n') + 4;
        bodyLeft = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
        upstream.write(chunk.subarray(0, headEnd));
        held = [];
        chunk = chunk.subarray(headEnd);
        onRelease.push(() => {
          for (const bytes of held!) upstream.write(bytes);
          held!.length = 0;
        });
      }
      if (!held) return void upstream.write(chunk);
      bodyLeft -= chunk.length;
      if (bodyLeft <= 0) arrived();
      if (released) upstream.write(chunk);
      else held.push(chunk);
    });
  });

  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    partArrived,
    partAnswered,
    release,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}
