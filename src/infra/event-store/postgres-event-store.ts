import type pg from 'pg';
import {
  StreamConflictError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type LogPosition,
  type NewEvent,
  type RecordedEvent,
} from '../../event-sourcing/event-store.ts';
import type { EventFeed, LogIdentity } from '../../event-sourcing/projection/event-feed.ts';
import type { Pool } from '../postgres/pool.ts';
import { AppendBatches, eventsChannel } from './postgres-append-batches.ts';
import { ReadBatches } from './postgres-read-batches.ts';
import { escapeLike, eventColumns, toRecordedEvent, type EventRow } from './postgres-event-rows.ts';

/**
 * Event store on plain PostgreSQL (the embedded default and the tests).
 *
 * Gap-free reads: positions come from a sequence, so two appends can commit in the other order
 * than they took their positions, and a reader that saw the later one could skip the earlier one
 * for ever. Readers therefore order by (transaction id, position) and only read events of
 * transactions older than the oldest one still running (pg_snapshot_xmin): everything before
 * that point is final, nothing can appear behind it any more.
 */
export class PostgresEventStore implements EventStore, EventFeed {
  constructor(
    private readonly pool: Pool,
    /** Opens a dedicated connection for LISTEN; the pool's connections come and go. */
    private readonly connect: () => Promise<pg.Client>,
  ) {
    this.batches = new AppendBatches(pool);
    this.reads = new ReadBatches(pool);
  }

  private readonly batches: AppendBatches;
  private readonly reads: ReadBatches;

  readStream(stream: string, fromRevision = 0, maxCount?: number): Promise<RecordedEvent[]> {
    return this.reads.read(stream, fromRevision, maxCount ?? null);
  }

  async appendToStream(
    stream: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    if (events.length === 0) throw new Error('appendToStream needs at least one event');
    let landed;
    try {
      landed = await this.batches.append(stream, events, expected);
    } catch (error) {
      // The unique (stream, revision) index backs up the row check.
      if ((error as { code?: string }).code === '23505') {
        throw new StreamConflictError(stream, expected);
      }
      throw error;
    }
    if (!landed) throw new StreamConflictError(stream, expected);
    return {
      revision: (expected === 'no_stream' ? -1 : expected) + events.length,
      position: [BigInt(landed.transactionId), BigInt(landed.globalPosition)],
    };
  }

  async subscribe(
    category: string,
    after: LogPosition | null,
    onBatch: (events: readonly RecordedEvent[]) => Promise<void>,
    { signal, maxBatch }: { signal: AbortSignal; maxBatch: number },
  ): Promise<void> {
    const wakeUps = await this.listen();
    try {
      let checkpoint = after;
      let idleRounds = 0;
      while (!signal.aborted) {
        const events = await this.readCategory(category, checkpoint, maxBatch);
        // Whoever aborted may already be tearing down what onBatch writes to.
        if (signal.aborted) break;
        if (events.length > 0) {
          await onBatch(events);
          checkpoint = events[events.length - 1]!.position;
          idleRounds = 0;
          continue;
        }
        // Events announced but still held back behind an older open transaction become readable
        // when it ends, which may announce nothing: look again soon, then back off.
        idleRounds = wakeUps.take() ? 0 : idleRounds + 1;
        await wakeUps.wait(Math.min(2 ** idleRounds, 500), signal);
      }
    } finally {
      await wakeUps.close();
    }
  }

  /** The cluster's system identifier and the database: a restored copy is the same log. */
  async logIdentity(): Promise<LogIdentity> {
    const { rows } = await this.pool.query<{ id: string }>(
      "SELECT system_identifier::text || '/' || current_database() AS id FROM pg_control_system()",
    );
    return { store: 'postgres', id: rows[0]!.id };
  }

  /** Counts events still held back behind an open transaction too: they are unapplied as well. */
  async firstRecordedAfter(category: string, after: LogPosition | null): Promise<Date | null> {
    const [transactionId, position] = after ?? [0n, 0n];
    const { rows } = await this.pool.query<{ recorded_at: Date }>(
      `SELECT recorded_at FROM events
       WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         AND stream_name LIKE $3
       ORDER BY transaction_id, global_position LIMIT 1`,
      [transactionId.toString(), position.toString(), `${escapeLike(category)}%`],
    );
    return rows[0]?.recorded_at ?? null;
  }

  /** `recorded_at` is the appending transaction's start time, by the database server's clock. */
  async currentTime(): Promise<Date> {
    const { rows } = await this.pool.query<{ now: Date }>('SELECT now()');
    return rows[0]!.now;
  }

  async readCategory(
    category: string,
    after: LogPosition | null,
    limit: number,
  ): Promise<RecordedEvent[]> {
    const [transactionId, position] = after ?? [0n, 0n];
    // ORDER BY names the table's columns: a bare `transaction_id` would mean the text output
    // column of the same name, and '10000' sorts before '9999'.
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${eventColumns} FROM events
       WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         AND stream_name LIKE $3
       ORDER BY events.transaction_id, events.global_position
       LIMIT $4`,
      [transactionId.toString(), position.toString(), `${escapeLike(category)}%`, limit],
    );
    return rows.map(toRecordedEvent);
  }

  private async listen() {
    const client = await this.connect();
    let notified = false;
    let wake: (() => void) | undefined;
    client.on('notification', () => {
      notified = true;
      wake?.();
    });
    client.on('error', () => wake?.());
    await client.query(`LISTEN ${eventsChannel}`);
    return {
      /** Whether a notification came since the last call. */
      take() {
        const was = notified;
        notified = false;
        return was;
      },
      wait(timeoutMs: number, abort: AbortSignal) {
        return new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            abort.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          };
          const timer = setTimeout(done, timeoutMs);
          abort.addEventListener('abort', done);
          wake = done;
          if (notified || abort.aborted) done();
        });
      },
      // eslint-disable-next-line no-restricted-syntax -- the subscription is over either way
      close: () => client.end().catch(() => {}),
    };
  }
}
