import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logFlushMs } from '../../src/infra/logger.ts';

/** The compiled build (run `npm run build` first), as `npm start` and the image run it. */
export const stowageBin = fileURLToPath(new URL('../../bin/stowage.js', import.meta.url));

/**
 * `stowage <args>` as its own process, as a deployment runs it: the one launcher every test,
 * benchmark and the system test start stowage processes with.
 */
export interface StowageProcess {
  child: ChildProcess;
  url: string;
  /** Milliseconds from spawn until it answered what it was started to wait for. */
  readyAfterMs: number;
  /** What it wrote to stdout and stderr: its log. */
  log(): string;
  /** Its log once what it logged so far has left its buffer (`logFlushMs`). */
  flushedLog(): Promise<string>;
  /** Resident memory now (VmRSS), in MiB. */
  rssMiB(): number;
  /** Peak resident memory so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /**
   * Sends the signal (SIGTERM unless told) and resolves with the exit code. A process still
   * running 15 s after a SIGTERM is killed, so a hung shutdown fails its test instead of the run.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StowageProcessOptions {
  /** What an operator types after `stowage`, e.g. `['serve', '--roles', 'worker']`. */
  args: readonly string[];
  /**
   * Its whole environment besides PATH, PORT and HOST: nothing leaks in from the test's own
   * (an API process must not inherit a master secret key, as in a deployment).
   */
  env: Record<string, string>;
  /**
   * `live`: it listens (every role it runs has started). `ready`: /health/ready answers 200 — its
   * database, event store, consumer and master keys all answer.
   */
  waitFor: 'live' | 'ready';
  /** Another install's bin/stowage.js; this checkout's build by default. */
  bin?: string;
  /** Another node binary; this one by default. */
  node?: string;
  nodeFlags?: readonly string[];
  withinMs?: number;
  /** Appends the log to this file instead of keeping it in memory (long runs). */
  logFile?: string;
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

/** Spawns `node [nodeFlags] <bin> <args>` on a free port and waits as `waitFor` says. */
export async function startStowage(options: StowageProcessOptions): Promise<StowageProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const bin = options.bin ?? stowageBin;
  const logFile = options.logFile;
  const started = performance.now();
  const child = spawn(
    options.node ?? process.execPath,
    [...(options.nodeFlags ?? []), bin, ...options.args],
    {
      cwd: join(dirname(bin), '..'),
      env: { PATH: process.env.PATH ?? '', ...options.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: logFile
        ? ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')]
        : ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const log = () => (logFile ? readFileSync(logFile, 'utf8') : output);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve((exitCode = code))),
  );
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (exitCode !== undefined) return exitCode;
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(killer);
    return code;
  };
  const memoryMiB = (field: 'VmRSS' | 'VmHWM') => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kilobytes = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
    // A process killed but not yet reaped has a status without memory lines: a NaN here would
    // pass every budget comparison unnoticed.
    if (kilobytes === undefined) throw new Error(`${field} unreadable: the process has exited`);
    return Number(kilobytes) / 1024;
  };

  const name = `stowage ${options.args.join(' ')}`;
  const deadline = started + (options.withinMs ?? 120_000);
  const probe = `${url}/health/${options.waitFor}`;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${name} exited (${exitCode}) first:\n${log()}`);
    const answered = await fetch(probe).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`${name}: ${probe} did not answer 200 in time:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    child,
    url,
    readyAfterMs: performance.now() - started,
    log,
    flushedLog: async () => {
      await new Promise((resolve) => setTimeout(resolve, 2 * logFlushMs));
      return log();
    },
    rssMiB: () => memoryMiB('VmRSS'),
    peakRssMiB: () => memoryMiB('VmHWM'),
    exited,
    stop,
  };
}
