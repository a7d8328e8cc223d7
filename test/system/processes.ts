import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

const repositoryRoot = new URL('../../', import.meta.url).pathname;

/** A stowage role as a native process: `node bin/stowage.js …` with the given environment only. */
export class RoleProcess {
  private child: ChildProcess | undefined;
  /** The highest VmHWM seen over every run of this process, in MiB. */
  peakRssMiB = 0;
  restarts = 0;

  constructor(
    readonly name: string,
    readonly role: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    readonly logFile: string,
    readonly url: string,
  ) {}

  static async create(
    name: string,
    role: string,
    args: string[],
    env: Record<string, string>,
    logDir: string,
  ): Promise<RoleProcess> {
    const port = await freePort();
    return new RoleProcess(
      name,
      role,
      args,
      { ...env, PORT: String(port), HOST: '127.0.0.1' },
      join(logDir, `${name}.log`),
      `http://127.0.0.1:${port}`,
    );
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const log = openSync(this.logFile, 'a');
    // PATH only, so that node's child tools work; everything else is what compose gives.
    this.child = spawn(process.execPath, ['bin/stowage.js', ...this.args], {
      cwd: repositoryRoot,
      env: { PATH: process.env.PATH ?? '', ...this.env },
      stdio: ['ignore', log, log],
    });
  }

  async waitReady(withinMs = 90_000): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (Date.now() < deadline) {
      const ok = await fetch(`${this.url}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return;
      if (this.child?.exitCode !== null)
        throw new Error(`${this.name} exited; see ${this.logFile}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${this.name} not ready within ${withinMs} ms; see ${this.logFile}`);
  }

  sampleRss(): void {
    if (!this.child?.pid || this.child.exitCode !== null) return;
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const kib = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
      this.peakRssMiB = Math.max(this.peakRssMiB, kib / 1024);
    } catch {
      // exited between the check and the read
    }
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.sampleRss();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async restart(signal: NodeJS.Signals): Promise<void> {
    await this.stop(signal);
    this.restarts += 1;
    this.start();
    await this.waitReady();
  }
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
