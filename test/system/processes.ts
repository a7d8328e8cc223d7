import { join } from 'node:path';
import { startStowage, type StowageProcess } from '../support/stowage-process.ts';

/**
 * A stowage role the system test kills and restarts: `node bin/stowage.js …` with compose's
 * command and environment only, its log appended to one file over every run.
 */
export class RoleProcess {
  private running: StowageProcess | undefined;
  /** The highest VmHWM seen over every run of this process, in MiB. */
  peakRssMiB = 0;
  restarts = 0;

  constructor(
    readonly name: string,
    readonly role: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    logDir: string,
  ) {
    this.logFile = join(logDir, `${name}.log`);
  }

  readonly logFile: string;

  get url(): string {
    if (!this.running) throw new Error(`${this.name} has not started`);
    return this.running.url;
  }

  /** Starts it and waits until /health/ready answers. */
  async start(): Promise<void> {
    this.running = await startStowage({
      args: this.args,
      env: this.env,
      waitFor: 'ready',
      withinMs: 90_000,
      logFile: this.logFile,
    });
  }

  sampleRss(): void {
    const running = this.running;
    if (!running || running.child.exitCode !== null) return;
    try {
      this.peakRssMiB = Math.max(this.peakRssMiB, running.peakRssMiB());
    } catch {
      // exited between the check and the read
    }
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    this.sampleRss();
    await this.running?.stop(signal);
  }

  async restart(signal: NodeJS.Signals): Promise<void> {
    await this.stop(signal);
    this.restarts += 1;
    await this.start();
  }
}
