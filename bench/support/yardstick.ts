import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A fixed amount of CPU work, timed: how much of a core this run got. Every benchmark prints it
 * at its start and end, so runs on different days (the machine's speed varies several-fold) can
 * be compared.
 */
export function yardstickMs(): number {
  const started = process.hrtime.bigint();
  let digest = Buffer.alloc(32);
  for (let n = 0; n < 200_000; n++) digest = createHash('sha256').update(digest).digest();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export function printYardstick(when: 'start' | 'end'): void {
  console.log(`CPU yardstick at ${when}: ${yardstickMs().toFixed(0)} ms (200,000 chained sha256)`);
}

const ticksPerSecond = 100; // USER_HZ on Linux

/** User + system CPU time a process has used so far, in microseconds (from /proc). */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is parenthesised and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  return ((userTicks + systemTicks) * 1e6) / ticksPerSecond;
}
