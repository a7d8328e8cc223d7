import pg from 'pg';
import { processCpuMicros } from './yardstick.ts';

/**
 * CPU time of the PostgreSQL backends serving one database, read from /proc (the server runs on
 * this machine). Backends that start during a measurement count from zero; one that ends during
 * it is lost, which a pool under load does not do.
 */
export class BackendCpu {
  private constructor(
    private readonly monitor: pg.Client,
    private readonly database: string,
  ) {}

  static async open(adminUrl: string, database: string): Promise<BackendCpu> {
    const monitor = new pg.Client({ connectionString: adminUrl });
    await monitor.connect();
    return new BackendCpu(monitor, database);
  }

  async snapshot(): Promise<Map<number, number>> {
    const { rows } = await this.monitor.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [this.database],
    );
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        cpu.set(pid, processCpuMicros(pid));
      } catch {
        // Ended between the query and the read.
      }
    }
    return cpu;
  }

  /** Microseconds used since `before` by the backends alive now. */
  async since(before: Map<number, number>): Promise<number> {
    let total = 0;
    for (const [pid, micros] of await this.snapshot()) total += micros - (before.get(pid) ?? 0);
    return total;
  }

  close(): Promise<void> {
    return this.monitor.end();
  }
}
