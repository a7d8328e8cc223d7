import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/stowage-process.ts';

const stowage = fileURLToPath(new URL('../../../bin/stowage.js', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The worker role as deployments run it: `stowage serve --roles worker`, the compiled build, with
 * Node's default flags (its memory is measured as it would be in production).
 */
export interface WorkerProcess {
  child: ChildProcess;
  /** What it wrote to stdout and stderr: its log. */
  log(): string;
  /** Peak resident memory so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  exited: Promise<number | null>;
}

export async function spawnWorkerProcess(
  env: Record<string, string>,
  // Node's defaults, as `npm start` and the image run the worker: its memory bound must hold there.
  nodeFlags: readonly string[] = [],
): Promise<WorkerProcess> {
  const port = String(await freePort());
  const child = spawn(process.execPath, [...nodeFlags, stowage, 'serve', '--roles', 'worker'], {
    cwd: repositoryRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env, PORT: port, HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  // The worker consumes before the process logs that it started.
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"msg":"stowage started"')) resolve();
    });
    void exited.then((code) => reject(new Error(`worker process exited (${code}): ${output}`)));
  });
  return {
    child,
    log: () => output,
    peakRssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
      return kib / 1024;
    },
    exited,
  };
}
