import { readdirSync, readFileSync } from 'node:fs';
import { processCpuMicros } from './yardstick.ts';

/**
 * CPU time of the Kafka broker and the S3 server that scripts/test-services.sh started on this
 * machine (found by the mark on their java command lines), so that a benchmark can say what one
 * operation costs them and not only the process it measures.
 */
export class ServiceCpu {
  private constructor(private readonly pids: ReadonlyMap<string, number>) {}

  static find(names: readonly string[]): ServiceCpu {
    const pids = new Map<string, number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let commandLine: string;
      try {
        commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      const name = names.find((one) => commandLine.includes(`-Dstowage.test-service=${one}@`));
      if (name) pids.set(name, Number(entry));
    }
    const missing = names.filter((name) => !pids.has(name));
    if (missing.length > 0) {
      throw new Error(`no ${missing.join(', ')} process from scripts/test-services.sh found`);
    }
    return new ServiceCpu(pids);
  }

  /** CPU µs used so far, by service. */
  snapshot(): Map<string, number> {
    return new Map([...this.pids].map(([name, pid]) => [name, processCpuMicros(pid)]));
  }

  /** CPU µs each service used since `before`. */
  since(before: ReadonlyMap<string, number>): Map<string, number> {
    return new Map([...this.snapshot()].map(([name, cpu]) => [name, cpu - before.get(name)!]));
  }
}
