import type pg from 'pg';
import type { Logger } from '../logger.ts';

const relistenDelayMs = 1_000;
// A connection that died without a word (a dropped NAT entry, a frozen server) is noticed by the
// next liveness query, not only by TCP keepalive minutes later.
const livenessIntervalMs = 10_000;
const livenessTimeoutMs = 5_000;

export interface ChannelListenerOptions {
  /** A dedicated connection for LISTEN, which a pooled one cannot hold. */
  connect: () => Promise<pg.Client>;
  channel: string;
  /** What is heard, for log lines: e.g. "token revocation". */
  what: string;
  logger: Logger;
  onNotification: (payload: string) => void;
  /**
   * Notifications may have been missed: called when the connection is lost and again when it
   * listens anew (what was cached in between was never covered), so whatever they would have
   * invalidated must be dropped.
   */
  onLost: () => void;
}

/**
 * LISTENs on one channel for a cache that must hear every change it caches: while the
 * connection is down `listening` is false (so nothing should be cached), and it reconnects by
 * itself every second.
 */
export class ChannelListener {
  private client: pg.Client | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private liveness: NodeJS.Timeout | undefined;
  private closed = false;
  private listenedBefore = false;

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
      // Names the connection in pg_stat_activity, for operators (and tests) looking for it.
      await client.query(`SET application_name = 'stowage listener ${channel}'`);
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client
        .end()
        .catch((endFailure: unknown) =>
          this.options.logger.debug(
            { err: endFailure },
            'ending a listener that never listened failed',
          ),
        );
      throw error;
    }
    if (this.closed) return void (await client.end());
    this.client = client;
    if (this.listenedBefore) this.options.onLost();
    this.listenedBefore = true;
    this.liveness = setInterval(() => void this.checkLiveness(client), livenessIntervalMs);
    this.liveness.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.relisten);
    clearInterval(this.liveness);
    const client = this.client;
    this.client = undefined;
    await client
      ?.end()
      .catch((error: unknown) =>
        this.options.logger.debug(
          { err: error },
          'ending a closed listener failed; it is gone anyway',
        ),
      );
  }

  private async checkLiveness(client: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`liveness query unanswered after ${livenessTimeoutMs} ms`)),
        livenessTimeoutMs,
      );
    });
    try {
      await Promise.race([client.query('SELECT 1'), timeout]);
    } catch (error) {
      this.lost(client, error as Error);
    } finally {
      clearTimeout(timer);
    }
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.liveness);
    this.options.onLost();
    client
      .end()
      .catch((endFailure: unknown) =>
        this.options.logger.debug({ err: endFailure }, 'ending a lost listener failed'),
      );
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
