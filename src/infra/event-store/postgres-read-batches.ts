import type { RecordedEvent } from '../../event-sourcing/event-store.ts';
import { OneStatementAtATime } from '../postgres/one-statement-at-a-time.ts';
import type { Pool } from '../postgres/pool.ts';
import { eventColumns, toRecordedEvent, type EventRow } from './postgres-event-rows.ts';

interface Read {
  stream: string;
  fromRevision: number;
  maxCount: number | null;
  settle(events: RecordedEvent[]): void;
  fail(error: unknown): void;
}

// Each read is its own index range scan, in its own LIMIT (NULL is none); `read_n` tells whose
// rows. The wanted reads' columns have names no events column has, so eventColumns stay plain.
const readStreams = `
  SELECT w.read_n, ${eventColumns}
  FROM unnest($1::text[], $2::bigint[], $3::bigint[])
    WITH ORDINALITY AS w(read_stream, read_from, read_max, read_n)
  CROSS JOIN LATERAL (
    SELECT * FROM events
    WHERE stream_name = w.read_stream AND stream_revision >= w.read_from
    ORDER BY stream_revision LIMIT w.read_max
  ) e
  ORDER BY w.read_n, e.stream_revision`;

/**
 * Stream reads go one statement at a time, those arriving meanwhile together in the next. A read
 * joins only a statement not yet sent, so it still sees every event committed before it was
 * asked for. Most reads are a repeated command's check that nothing was appended since the kept
 * state: sending each alone cost the service more CPU in the kernel's loopback TCP than in all
 * of its own code (bench/README.md).
 */
export class ReadBatches {
  private readonly statements = new OneStatementAtATime<Read>(
    (batch) => this.send(batch),
    (waiting) => waiting.splice(0, this.maxReads),
  );

  constructor(
    private readonly pool: Pool,
    private readonly maxReads = 100,
  ) {}

  read(stream: string, fromRevision: number, maxCount: number | null) {
    return new Promise<RecordedEvent[]>((settle, fail) => {
      this.statements.queue({ stream, fromRevision, maxCount, settle, fail });
    });
  }

  private async send(batch: Read[]): Promise<void> {
    try {
      const { rows } = await this.pool.query<EventRow & { read_n: string }>({
        name: 'stowage-read-streams',
        text: readStreams,
        values: [
          batch.map((read) => read.stream),
          batch.map((read) => read.fromRevision),
          batch.map((read) => read.maxCount),
        ],
      });
      const events = batch.map((): RecordedEvent[] => []);
      for (const row of rows) events[Number(row.read_n) - 1]!.push(toRecordedEvent(row));
      batch.forEach((read, n) => read.settle(events[n]!));
    } catch (error) {
      for (const read of batch) read.fail(error);
    }
  }
}
