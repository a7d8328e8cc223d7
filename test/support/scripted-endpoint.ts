import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server standing in for an endpoint a customer names: each request, once read to
 * its end, is answered by `answer`, which the test sets (or never answered).
 */
export interface ScriptedEndpoint {
  /** http://127.0.0.1:<port> */
  url: string;
  server: Server;
  answer: (request: IncomingMessage, response: ServerResponse) => void;
  /** Requests received since it started. */
  requests: number;
  close(): Promise<void>;
}

export async function startScriptedEndpoint(): Promise<ScriptedEndpoint> {
  const server = createServer((request, response) => {
    scripted.requests += 1;
    request.resume();
    request.on('end', () => scripted.answer(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scripted: ScriptedEndpoint = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    answer: () => {},
    requests: 0,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return scripted;
}
