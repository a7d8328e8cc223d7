import type pg from 'pg';
import type { Logger } from '../logger.ts';

const relistenDelayMs = 1_000;

export interface ChannelListenerOptions {
  /** A dedicated connection for LISTEN, which a pooled one cannot hold. */
  connect: () => Promise<pg.Client>;
  channel: string;
  /** What is heard, for log lines: e.g. "token revocation". */
  what: string;
  logger: Logger;
  onNotification(payload: string): void;
  /**
   * The connection was lost: notifications sent meanwhile are gone, so whatever they would have
   * invalidated must be dropped now.
   */
  onLost(): void;
}

/**
 * LISTENs on one channel for a cache that must hear every change it caches: while the
 * connection is down `listening` is false (so nothing should be cached), and it reconnects by
 * itself every second.
 */
export class ChannelListener {
  private client: pg.Client | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ChannelListenerOptions) {}

  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Resolves once listening; rejects when the first connection fails. */
  async start(): Promise<void> {
    const { connect, channel, onNotification } = this.options;
    const client = await connect();
    const lost = (error?: Error) => this.lost(client, error);
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === channel && message.payload) onNotification(message.payload);
    });
    try {
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) return void (await client.end());
    this.client = client;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.relisten);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.options.onLost();
    client.end().catch(() => {});
    this.options.logger.warn(
      { err: error },
      `lost the ${this.options.what} listener; reconnecting`,
    );
    this.scheduleRelisten();
  }

  private scheduleRelisten(): void {
    if (this.closed) return;
    this.relisten = setTimeout(() => {
      this.start().catch((error: unknown) => {
        this.options.logger.warn(
          { err: error },
          `${this.options.what} listener failed to reconnect`,
        );
        this.scheduleRelisten();
      });
    }, relistenDelayMs);
    this.relisten.unref();
  }
}
