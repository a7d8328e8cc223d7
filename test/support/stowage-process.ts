import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

/** `stowage serve --roles <role>` as its own process, as a deployment runs it. */
export interface RoleProcess {
  child: ChildProcess;
  url: string;
  /** Milliseconds from spawn until /health/ready first answered 200. */
  readyAfterMs: number;
  /** Resident memory now (VmRSS), in MiB. */
  rssMiB(): number;
  /** What it wrote to stdout and stderr: its log. */
  log(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

/** Spawns `node [nodeFlags] <bin> serve --roles <role>` and waits until it is ready. */
export async function startRole(options: {
  bin: string;
  role: string;
  env: Record<string, string>;
  nodeFlags?: readonly string[];
  node?: string;
  readyWithinMs?: number;
}): Promise<RoleProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(
    options.node ?? process.execPath,
    [...(options.nodeFlags ?? []), options.bin, 'serve', '--roles', options.role],
    {
      env: { PATH: process.env.PATH ?? '', ...options.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve((exitCode = code))),
  );
  const stop = async () => {
    if (exitCode === undefined) child.kill('SIGTERM');
    return exited;
  };

  const deadline = started + (options.readyWithinMs ?? 120_000);
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(`${options.role} exited (${exitCode}) before it was ready:\n${output}`);
    }
    const ready = await fetch(`${url}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`${options.role} not ready in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    child,
    url,
    readyAfterMs: performance.now() - started,
    rssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024;
    },
    log: () => output,
    stop,
  };
}
