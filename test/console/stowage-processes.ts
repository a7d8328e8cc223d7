import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `stowage serve` as users start it (bin/stowage.js), in its own process. */
export interface StowageProcess {
  url: string;
  /** Everything it logged. */
  log(): string;
  stop(): Promise<void>;
}

export async function startStowage(
  roles: string,
  env: Record<string, string>,
  ready: (log: string) => boolean,
): Promise<StowageProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/stowage.js', 'serve', '--roles', roles], {
    cwd: repositoryRoot,
    // Only what is given: the API processes must not inherit a secret key from the environment.
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = {
    url: `http://127.0.0.1:${port}`,
    log: () => output,
    stop: () => stop(child, exited),
  };
  const deadline = Date.now() + 90_000;
  while (!ready(output)) {
    if (child.exitCode !== null)
      throw new Error(`stowage serve --roles ${roles} exited: ${output}`);
    if (Date.now() > deadline) {
      await started.stop();
      throw new Error(`stowage serve --roles ${roles} did not start: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return started;
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
