import pg from 'pg';
import type { ExpectedRevision, NewEvent } from '../../event-sourcing/event-store.ts';
import { OneStatementAtATime } from '../postgres/one-statement-at-a-time.ts';
import type { Pool } from '../postgres/pool.ts';

/** Where an append's last event landed: its transaction id and global position, as text. */
export interface Landed {
  transactionId: string;
  globalPosition: string;
}

interface Append {
  stream: string;
  events: readonly NewEvent[];
  expected: ExpectedRevision;
  /** Undefined when the stream was not at the expected revision: nothing was written. */
  settle(landed: Landed | undefined): void;
  fail(error: unknown): void;
}

/** Told, on the commit of any append, that the log has grown: the projector's wake-up call. */
export const eventsChannel = 'stowage_events';

// Appends to many streams in one statement, so in one transaction and one WAL flush. Each stream
// steps from its own expected revision (a row lock, as for a single append); only the events of
// the streams that stepped go in, in the order given, and the rest are told they conflicted. The
// announcement is part of the statement, delivered by PostgreSQL at the commit, so it costs no
// round trip of its own (the last SELECT names `announced` only so that it runs).
const appendToStreams = `
  WITH wanted AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS w(stream_name, expected, last)
  ), moved AS (
    UPDATE event_streams s SET revision = w.last FROM wanted w
    WHERE s.stream_name = w.stream_name AND w.expected >= 0 AND s.revision = w.expected
    RETURNING s.stream_name
  ), created AS (
    INSERT INTO event_streams (stream_name, revision)
    SELECT stream_name, last FROM wanted WHERE expected < 0
    ON CONFLICT (stream_name) DO NOTHING RETURNING stream_name
  ), appended AS (
    INSERT INTO events (stream_name, stream_revision, event_id, event_type, data, metadata)
    SELECT stream_name, revision, id, type, data, metadata
    FROM unnest($4::text[], $5::bigint[], $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[])
      WITH ORDINALITY AS e(stream_name, revision, id, type, data, metadata, n)
    WHERE stream_name IN (SELECT stream_name FROM moved UNION ALL SELECT stream_name FROM created)
    ORDER BY n
    RETURNING stream_name, transaction_id, global_position
  ), announced AS (
    SELECT pg_notify('${eventsChannel}', '') WHERE EXISTS (SELECT FROM appended)
  )
  SELECT stream_name, max(transaction_id::text) AS transaction_id,
         max(global_position)::text AS global_position
  FROM appended, announced GROUP BY stream_name`;

/**
 * Group commit: appends go one statement at a time, those arriving meanwhile together in the
 * next, so a busy service spends one commit on many appends. Every append is durable before its
 * caller hears of it. One at a time measured best: PostgreSQL spent 110–119 µs per appended
 * event, against 150–210 with 2 or 4 statements in flight and 353 with 8 (bench/README.md).
 *
 * A NOTIFY holds PostgreSQL's notification lock, one for the whole cluster, from before the
 * commit's WAL flush to its end. With one statement at a time a process never waits on its own;
 * other notifying commits (API replicas, the projector, other databases') queue behind it, and
 * the batches of the appending ones grow meanwhile. A separate announcement after each commit
 * cost more: one more statement for every one appending (bench/README.md, eleventh session).
 */
export class AppendBatches {
  private readonly statements = new OneStatementAtATime<Append>(
    (batch) => this.send(batch),
    (waiting) => this.takeBatch(waiting),
  );

  constructor(
    private readonly pool: Pool,
    private readonly maxStreams = 200,
  ) {}

  append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision) {
    return new Promise<Landed | undefined>((settle, fail) => {
      this.statements.queue({ stream, events, expected, settle, fail });
    });
  }

  /** Up to maxStreams appends, each stream at most once (a second one waits for the next). */
  private takeBatch(waiting: Append[]): Append[] {
    const batch: Append[] = [];
    const streams = new Set<string>();
    for (let n = 0; n < waiting.length && batch.length < this.maxStreams;) {
      const append = waiting[n]!;
      if (streams.has(append.stream)) {
        n += 1;
        continue;
      }
      streams.add(append.stream);
      batch.push(append);
      waiting.splice(n, 1);
    }
    return batch;
  }

  private async send(batch: Append[]): Promise<void> {
    try {
      const landed = await this.write(batch);
      for (const append of batch) append.settle(landed.get(append.stream));
    } catch (error) {
      if (batch.length > 1 && refusedWhole(error)) {
        await Promise.all(batch.map((append) => this.send([append])));
        return;
      }
      for (const append of batch) append.fail(error);
    }
  }

  private async write(batch: readonly Append[]): Promise<Map<string, Landed>> {
    const events = batch.flatMap((append) => {
      const first = append.expected === 'no_stream' ? -1 : append.expected;
      return append.events.map((event, n) => ({
        stream: append.stream,
        revision: first + n + 1,
        event,
      }));
    });
    const { rows } = await this.pool.query<{
      stream_name: string;
      transaction_id: string;
      global_position: string;
    }>({
      name: 'stowage-append-to-streams',
      text: appendToStreams,
      values: [
        batch.map((append) => append.stream),
        batch.map((append) => (append.expected === 'no_stream' ? -1 : append.expected)),
        batch.map(
          (append) =>
            (append.expected === 'no_stream' ? -1 : append.expected) + append.events.length,
        ),
        events.map((row) => row.stream),
        events.map((row) => row.revision),
        events.map((row) => row.event.id),
        events.map((row) => row.event.type),
        events.map((row) => JSON.stringify(row.event.data)),
        events.map((row) => JSON.stringify(row.event.metadata)),
      ],
    });
    return new Map(
      rows.map((row) => [
        row.stream_name,
        { transactionId: row.transaction_id, globalPosition: row.global_position },
      ]),
    );
  }
}

/**
 * Whether PostgreSQL refused the statement, which rolled it back as a whole: bad data (SQLSTATE
 * class 22), a constraint (23: a unique violation between two processes' batches), a deadlock or
 * a serialization failure (40). Its appends are then tried again one by one. Any other failure
 * may have come after the commit: a lost connection above all, whose Node error carries a string
 * code too (ECONNRESET). Tried again, an append that landed would meet its own event and be
 * refused as a conflict; passed on, it fails as unknown, and the caller's retry finds it in.
 */
function refusedWhole(error: unknown): boolean {
  return error instanceof pg.DatabaseError && /^(22|23|40)/.test(error.code ?? '');
}
