import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';

export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const started: ChildProcess[] = [];

/**
 * Starts a server as a child process (so the load generator has its own core) listening on a
 * free port, with its output in a file, and returns once `readyPath` answers at all.
 * BENCH_CPU_PROF=1 profiles stowage (`--cpu-prof` into /tmp/prof).
 */
export async function startServer(
  args: string[],
  { logFd, env, readyPath }: { logFd: number; env: Record<string, string>; readyPath: string },
): Promise<Child> {
  const port = await freePort();
  const profile =
    process.env.BENCH_CPU_PROF && args[0] === 'bin/stowage.js'
      ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']
      : [];
  const loader = args[0] === 'bin/stowage.js' ? [] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...profile, ...loader, ...args], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', logFd, 'inherit'],
  });
  started.push(child);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; waited < 60_000; waited += 100) {
    if (exited !== undefined) throw new Error(`${args.join(' ')} exited with ${exited}`);
    const answered = await fetch(`${url}${readyPath}`).then(
      (response) => response.status < 500,
      () => false,
    );
    if (answered) {
      return {
        url,
        pid: child.pid!,
        stop: () =>
          new Promise((resolve) => {
            if (exited !== undefined) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${args.join(' ')} did not answer within 60 s`);
}

export function stopAll(): void {
  for (const child of started) if (child.exitCode === null) child.kill('SIGTERM');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}
