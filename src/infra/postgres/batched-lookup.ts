import { OneStatementAtATime } from './one-statement-at-a-time.ts';
import type { Pool } from './pool.ts';

interface Lookup<Row> {
  key: string;
  settle(row: Row | undefined): void;
  fail(error: unknown): void;
}

/** A query by primary key, for many keys at once: `$1` is the text[] of keys. */
export interface LookupStatement<Row> {
  name: string;
  text: string;
  /** The key a returned row answers, spelled exactly as it was asked for. */
  keyOf: (row: Row) => string;
}

/**
 * Rows by key, the lookups arriving while one statement runs going together in the next (a
 * lookup joins only a statement not yet sent, so it sees what was committed before it was
 * asked). Lookups of things met for the first time come in bursts: each alone cost a round trip
 * and a statement of its own (bench/README.md, appends spread over 200,000 instances).
 */
export class BatchedLookup<Row> {
  private readonly statements = new OneStatementAtATime<Lookup<Row>>(
    (batch) => this.send(batch),
    (waiting) => waiting.splice(0, this.maxKeys),
  );

  constructor(
    private readonly pool: Pool,
    private readonly statement: LookupStatement<Row>,
    private readonly maxKeys = 200,
  ) {}

  /** The row with this key; undefined when there is none. */
  find(key: string): Promise<Row | undefined> {
    return new Promise((settle, fail) => this.statements.queue({ key, settle, fail }));
  }

  private async send(batch: Lookup<Row>[]): Promise<void> {
    try {
      const { name, text, keyOf } = this.statement;
      const keys = [...new Set(batch.map((lookup) => lookup.key))];
      const { rows } = await this.pool.query<Row & object>({ name, text, values: [keys] });
      const byKey = new Map(rows.map((row) => [keyOf(row), row]));
      for (const lookup of batch) lookup.settle(byKey.get(lookup.key));
    } catch (error) {
      for (const lookup of batch) lookup.fail(error);
    }
  }
}
