import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The worker role as its own process (test/workers/fixtures/worker-process.ts). */
export interface WorkerProcess {
  child: ChildProcess;
  /** What it wrote to stderr: its log. */
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
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', fixture], {
    cwd: repositoryRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready\n')) resolve();
    });
    void exited.then((code) => reject(new Error(`worker process exited (${code}): ${stderr}`)));
  });
  return {
    child,
    log: () => stderr,
    peakRssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
      return kib / 1024;
    },
    exited,
  };
}
