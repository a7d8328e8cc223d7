/**
 * The floors of bench:commands: the bare route (same parsing and zod validation) plus the least
 * a Node service does with PostgreSQL per request, one statement through node-postgres on a pool
 * of the run's size. FLOOR=append inserts the event, one durable transaction, into the
 * events-shaped table pgbench fills; FLOOR=read reads the instance's stream from a revision past
 * its end, as a repeat's check does. No auth, rate limit, decision or log line: what stowage
 * spends above these is its own work, and what these reach of pgbench and of the bare route is
 * what the store's round trip alone leaves to any Node service on this machine. Run as a child
 * process.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { listenWithValidatedRoute } from './validated-route.ts';

const floor = process.env.FLOOR;
if (floor !== 'append' && floor !== 'read') throw new Error('FLOOR must be append or read');
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_SIZE ?? 20),
});

const insertEvent = `
  INSERT INTO bench_events (stream_name, stream_revision, event_id, event_type, data, metadata)
  VALUES ($1, 0, $2, 'S3ConfigUpdated', $3, '{}')`;
const readStreamTail = `
  SELECT * FROM events WHERE stream_name = $1 AND stream_revision >= $2 ORDER BY stream_revision`;

await listenWithValidatedRoute(async (instance, { region, bucket, pathPrefix }) => {
  const stream = instanceStream(instance);
  if (floor === 'append') {
    // A stream name of its own per row, as pgbench's, so that no insert waits on another.
    const values = [`${stream}-${randomUUID()}`, randomUUID(), { region, bucket, pathPrefix }];
    await pool.query({ name: 'append', text: insertEvent, values });
  } else {
    await pool.query({ name: 'read', text: readStreamTail, values: [stream, 1] });
  }
});
