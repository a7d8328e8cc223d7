import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredTestAnswer } from '../../credential-tests/stored-credential-test.ts';
import type { Pool } from './pool.ts';

/** Channel a worker LISTENs on; the payload is the new request's id. */
export const credentialTestChannel = 'stowage_credential_test_requested';

/** What a worker writes back: never the secret, only what the probe saw. */
export type WorkerAnswer = Extract<
  StoredTestAnswer,
  { outcome: 'tested' | 'notEnabled' | 'failed' }
>;

const pollMs = 100;
// A request nobody answered (its API process died while waiting) is kept this long for a look.
const abandonedAfter = '1 hour';

/**
 * The Postgres mailbox between API processes, which may not open stored secrets, and workers,
 * which may (migration 011).
 */
export class PostgresCredentialTestMailbox {
  constructor(
    private readonly pool: Pool,
    /** How long an API request waits for a worker to claim and answer. */
    private readonly answerWithinMs = 15_000,
  ) {}

  /** API side: asks for a test of the instance's stored credentials and waits for the answer. */
  async ask(instance: string): Promise<StoredTestAnswer> {
    const id = randomUUID();
    const deadline = Date.now() + this.answerWithinMs;
    await this.pool.query(
      `WITH request AS (
         INSERT INTO credential_test_requests (request_id, instance_name, answer_by)
         VALUES ($1, $2, to_timestamp($3 / 1000.0)) RETURNING request_id)
       SELECT pg_notify($4, request_id::text) FROM request`,
      [id, instance, deadline, credentialTestChannel],
    );
    try {
      for (;;) {
        const { rows } = await this.pool.query<{ claimed: boolean; answer: WorkerAnswer | null }>(
          `SELECT claimed_at IS NOT NULL AS claimed, answer
           FROM credential_test_requests WHERE request_id = $1`,
          [id],
        );
        const row = rows[0];
        if (row?.answer) return row.answer;
        if (Date.now() >= deadline) return { outcome: row?.claimed ? 'late' : 'noWorker' };
        await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
      }
    } finally {
      await this.pool.query('DELETE FROM credential_test_requests WHERE request_id = $1', [id]);
    }
  }

  /** Worker side: takes the oldest request still awaited that no other worker took. */
  async claim(): Promise<{ id: string; instance: string } | undefined> {
    const { rows } = await this.pool.query<{ request_id: string; instance_name: string }>(
      `UPDATE credential_test_requests SET claimed_at = now()
       WHERE request_id = (
         SELECT request_id FROM credential_test_requests
         WHERE claimed_at IS NULL AND answer_by > now()
         ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING request_id, instance_name`,
    );
    const row = rows[0];
    return row && { id: row.request_id, instance: row.instance_name };
  }

  async answer(id: string, answer: WorkerAnswer): Promise<void> {
    await this.pool.query('UPDATE credential_test_requests SET answer = $2 WHERE request_id = $1', [
      id,
      JSON.stringify(answer),
    ]);
  }

  /** Worker side: drops requests whose asker is long gone. */
  async removeAbandoned(): Promise<void> {
    await this.pool.query(
      `DELETE FROM credential_test_requests WHERE answer_by < now() - interval '${abandonedAfter}'`,
    );
  }
}
