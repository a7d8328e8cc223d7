import type pg from 'pg';
import { comparePositions, type LogPosition } from '../event-sourcing/event-store.ts';
import type { Pool } from '../infra/postgres/pool.ts';
import { readCheckpoint } from '../event-sourcing/projection/checkpoints.ts';
import { s3ConfigProjectionName } from '../projections/s3-config-projection.ts';
import { s3ConfigChangedChannel } from '../projections/s3-config-table.ts';

interface Waiter {
  position: LogPosition;
  settle(reached: boolean): void;
}

/**
 * Read-your-writes for the query routes: waits until the projection's checkpoint reaches a
 * position. One LISTEN connection per process hears every projection commit; only while someone
 * waits does a commit cost a checkpoint read, and concurrent wake-ups share one read.
 */
export class PostgresProjectionProgress {
  private listener: Promise<pg.Client> | undefined;
  private listening: pg.Client | undefined;
  private readonly waiters = new Set<Waiter>();
  private checking = false;
  private checkAgain = false;

  constructor(
    private readonly pool: Pool,
    private readonly connect: () => Promise<pg.Client>,
  ) {}

  /** True once the read model includes `position`; false when `timeoutMs` passed first. */
  async reach(position: LogPosition, timeoutMs: number): Promise<boolean> {
    await this.listen();
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        position,
        settle: (reached) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => waiter.settle(false), timeoutMs);
      this.waiters.add(waiter);
      // Registered before the first look, so a commit in between wakes it.
      this.check();
    });
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters) waiter.settle(false);
    const listener = this.listener;
    this.listener = undefined;
    this.listening = undefined;
    // eslint-disable-next-line no-restricted-syntax -- closing: a listener that never connected or will not end is gone anyway
    await listener?.then((client) => client.end()).catch(() => {});
  }

  private listen(): Promise<pg.Client> {
    this.listener ??= this.startListening().catch((error: unknown) => {
      this.listener = undefined;
      throw error;
    });
    return this.listener;
  }

  private async startListening(): Promise<pg.Client> {
    const client = await this.connect();
    // A lost connection is opened again by the next waiter; the ones waiting now look once more.
    const lost = () => {
      // eslint-disable-next-line no-restricted-syntax -- the connection is lost already
      void client.end().catch(() => {});
      if (this.listening === client) {
        this.listening = undefined;
        this.listener = undefined;
      }
      this.check();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', () => this.check());
    try {
      await client.query(`LISTEN ${s3ConfigChangedChannel}`);
    } catch (error) {
      // eslint-disable-next-line no-restricted-syntax -- the LISTEN's failure is the one to report
      await client.end().catch(() => {});
      throw error;
    }
    this.listening = client;
    return client;
  }

  private check(): void {
    if (this.waiters.size === 0) return;
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    void (async () => {
      try {
        do {
          this.checkAgain = false;
          const checkpoint = await readCheckpoint(this.pool, s3ConfigProjectionName);
          for (const waiter of this.waiters) {
            if (checkpoint && comparePositions(checkpoint.position, waiter.position) >= 0)
              waiter.settle(true);
          }
        } while (this.checkAgain && this.waiters.size > 0);
      } catch {
        // The waiters' timeouts answer them; the next commit or waiter looks again.
      } finally {
        this.checking = false;
      }
    })();
  }
}
