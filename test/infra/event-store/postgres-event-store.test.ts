import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, mock, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type pg from 'pg';
import type { AppendResult, NewEvent } from '../../../src/event-sourcing/event-store.ts';
import { PostgresEventStore } from '../../../src/infra/event-store/postgres-event-store.ts';
import { createPool, type Pool } from '../../../src/infra/postgres/pool.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { waitUntil } from '../../projections/support/read-model.ts';
import {
  asNewEvent,
  assertStrictlyIncreasing,
  eventStoreContract,
  follow,
  newEvent,
} from './event-store-contract.ts';

eventStoreContract('PostgresEventStore contract', async () => {
  const database = await createTestDatabase();
  return {
    store: new PostgresEventStore(database.pool, database.connect),
    cleanup: () => database.drop(),
  };
});

describe('PostgresEventStore reads the log without gaps', () => {
  test(
    'an append that commits after a later one is held back, then delivered in transaction order',
    {
      timeout: 60_000,
    },
    async () => {
      await withDatabase(async (database, store) => {
        const category = `gap${randomBytes(4).toString('hex')}-`;
        const follower = follow(store, category, null, 10);
        const [early, late, latest] = [newEvent(), newEvent(), newEvent()];
        const held = await database.connect();
        try {
          // An append whose transaction stays open: it takes the lower transaction id and the
          // first position now, adds an event after the store's append, and commits last.
          await held.query('BEGIN');
          await insertEvent(held, `${category}held`, 0, early);
          const committed = await store.appendToStream(`${category}committed`, [late], 'no_stream');
          await insertEvent(held, `${category}held`, 1, latest);

          assert.equal((await store.readStream(`${category}committed`)).length, 1);
          assert.deepEqual(await store.readCategory(category, null, 10), []);
          await delay(500);
          assert.equal(follower.events.length, 0, 'nothing is delivered past an open transaction');

          await held.query('COMMIT');
          await follower.waitFor(3);
          await delay(100);
          await follower.stop();

          assert.deepEqual(follower.events.map(asNewEvent), [early, latest, late]);
          const [first, second, third] = follower.events.map((event) => event.position);
          assert.deepEqual(third, committed.position);
          assert.ok(first![0] === second![0] && second![0] < third[0], 'ordered by transaction id');
          assert.ok(first![1] < third[1] && third[1] < second![1], 'across positions');
        } finally {
          await held.end();
          // eslint-disable-next-line no-restricted-syntax -- cleanup: a failed stop must not hide the test's own result
          await follower.stop().catch(() => {});
        }
      });
    },
  );

  test('transaction ids order as numbers where they gain a digit', async () => {
    await withDatabase(async (database, store) => {
      const category = `digits${randomBytes(4).toString('hex')}-`;
      const [later, earlier] = [newEvent(), newEvent()];
      // Transaction ids on either side of a digit boundary, as every cluster crosses them.
      for (const [transactionId, event] of [
        ['1000', later],
        ['999', earlier],
      ] as const) {
        await database.pool.query(
          `INSERT INTO events (transaction_id, stream_name, stream_revision, event_id, event_type, data, metadata)
           VALUES ($1, $2, 0, $3, $4, $5, $6)`,
          [
            transactionId,
            `${category}${transactionId}`,
            event.id,
            event.type,
            event.data,
            event.metadata,
          ],
        );
      }

      const read = await store.readCategory(category, null, 10);
      assert.deepEqual(read.map(asNewEvent), [earlier, later]);
      const follower = follow(store, category, null, 1);
      await follower.waitFor(2);
      await delay(100);
      await follower.stop();
      assert.deepEqual(follower.events.map(asNewEvent), [earlier, later]);
    });
  });

  test('an abort while a read is under way hands over nothing more', async () => {
    await withDatabase(async (database) => {
      const category = `abort${randomBytes(4).toString('hex')}-`;
      const subscription = new AbortController();
      const abortingPool = {
        async query(query: string | { text: string }, values?: unknown[]) {
          const result = await database.pool.query(query, values);
          const text = typeof query === 'string' ? query : query.text;
          if (text.includes('pg_snapshot_xmin')) subscription.abort();
          return result;
        },
      } as unknown as Pool;
      const store = new PostgresEventStore(abortingPool, database.connect);
      await store.appendToStream(`${category}a`, [newEvent()], 'no_stream');

      const batches: number[] = [];
      await store.subscribe(
        category,
        null,
        async (events) => {
          batches.push(events.length);
        },
        { signal: subscription.signal, maxBatch: 10 },
      );
      assert.deepEqual(batches, []);
    });
  });

  test(
    '8 connections append 2,000 events while a subscriber follows: each arrives once, in order',
    {
      timeout: 120_000,
    },
    async () => {
      await withDatabase(async (database, store) => {
        const category = `stress${randomBytes(4).toString('hex')}-`;
        const follower = follow(store, category, null, 50);
        const appends: { events: NewEvent[]; result: AppendResult }[] = [];

        await Promise.all(
          Array.from({ length: 8 }, async (_, writer) => {
            const revisions = new Map<string, number>();
            for (let written = 0, round = 0; written < 250; round++) {
              const stream = `${category}w${writer}-${round % 25}`;
              const events = Array.from({ length: Math.min(1 + (round % 4), 250 - written) }, () =>
                newEvent(),
              );
              const result = await store.appendToStream(
                stream,
                events,
                revisions.get(stream) ?? 'no_stream',
              );
              revisions.set(stream, result.revision);
              appends.push({ events, result });
              written += events.length;
            }
          }),
        );
        const { rows } = await database.pool.query<{ count: number }>(
          'SELECT count(*)::int AS count FROM events',
        );
        assert.equal(rows[0]!.count, 2_000);

        await follower.waitFor(2_000);
        // Room for a duplicate or a stray event to show up before counting.
        await delay(300);
        await follower.stop();

        assert.equal(follower.events.length, rows[0]!.count);
        assertStrictlyIncreasing(follower.events.map((event) => event.position));
        const delivered = new Map(follower.events.map((event) => [event.id, event]));
        for (const { events, result } of appends) {
          for (const event of events) assert.ok(delivered.has(event.id), `${event.id} delivered`);
          assert.deepEqual(delivered.get(events.at(-1)!.id)!.position, result.position);
        }
        for (const size of follower.batchSizes) {
          assert.ok(size >= 1 && size <= 50, `batch of ${size}`);
        }
      });
    },
  );
});

async function withDatabase(
  work: (database: TestDatabase, store: PostgresEventStore) => Promise<void>,
): Promise<void> {
  const database = await createTestDatabase({ poolSize: 10 });
  try {
    await work(database, new PostgresEventStore(database.pool, database.connect));
  } finally {
    await database.drop();
  }
}

async function insertEvent(
  client: pg.Client,
  stream: string,
  revision: number,
  { id, type, data, metadata }: NewEvent,
): Promise<void> {
  await client.query(
    `INSERT INTO event_streams (stream_name, revision) VALUES ($1, $2)
     ON CONFLICT (stream_name) DO UPDATE SET revision = excluded.revision`,
    [stream, revision],
  );
  await client.query(
    `INSERT INTO events (stream_name, stream_revision, event_id, event_type, data, metadata)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [stream, revision, id, type, data, metadata],
  );
}

describe('PostgresEventStore group commit', () => {
  test('appends to many streams at once share a few transactions; a stream at a wrong revision fails alone', async () => {
    const database = await createTestDatabase();
    try {
      const store = new PostgresEventStore(database.pool, database.connect);
      const prefix = `group-${randomBytes(4).toString('hex')}`;
      const late = `${prefix}-late`;
      await store.appendToStream(late, [newEvent()], 'no_stream');

      const streams = Array.from({ length: 50 }, (_, n) => `${prefix}-${n}`);
      const outcomes = await Promise.allSettled([
        ...streams.map((stream) =>
          store.appendToStream(stream, [newEvent(), newEvent()], 'no_stream'),
        ),
        store.appendToStream(late, [newEvent()], 'no_stream'),
      ]);

      const landed = outcomes.slice(0, 50).map((outcome) => {
        assert.equal(outcome.status, 'fulfilled');
        return outcome.value;
      });
      const conflict = outcomes[50]!;
      assert.equal(conflict.status, 'rejected');
      assert.equal(conflict.reason.name, 'StreamConflictError');
      // The first append goes at once, alone; those that arrived meanwhile go in the next one.
      const transactions = new Set(landed.map((result) => result.position[0]));
      assert.ok(transactions.size <= 3, `${transactions.size} transactions for 50 appends`);
      for (const [n, stream] of streams.entries()) {
        const events = await store.readStream(stream);
        assert.equal(events.length, 2);
        assert.deepEqual(events.at(-1)!.position, landed[n]!.position);
      }
      assert.equal((await store.readStream(late)).length, 1);
    } finally {
      await database.drop();
    }
  });
});

describe('PostgresEventStore append announcements', () => {
  test('each appending statement announces its commit once, in no statement of its own; one that appends nothing announces nothing', async () => {
    await withDatabase(async (database, store) => {
      const prefix = `announced-${randomBytes(4).toString('hex')}`;
      const listener = await database.connect();
      const heard: string[] = [];
      listener.on('notification', (message) => heard.push(message.channel));
      await listener.query('LISTEN stowage_events');
      const query = mock.method(database.pool, 'query');
      try {
        const landed = await Promise.all(
          Array.from({ length: 30 }, (_, n) =>
            store.appendToStream(`${prefix}-${n}`, [newEvent()], 'no_stream'),
          ),
        );
        const transactions = new Set(landed.map((result) => result.position[0])).size;
        await waitUntil(() => heard.length >= transactions, { what: 'the announcements' });
        await delay(200);
        assert.deepEqual(heard, Array(transactions).fill('stowage_events'));
        assert.equal(query.mock.callCount(), transactions);

        await assert.rejects(store.appendToStream(`${prefix}-0`, [newEvent()], 'no_stream'), {
          name: 'StreamConflictError',
        });
        await delay(200);
        assert.equal(heard.length, transactions);
      } finally {
        query.mock.restore();
        await listener.end();
      }
    });
  });
});

describe('PostgresEventStore group commit, statement refused', () => {
  test('an append whose data PostgreSQL refuses fails alone; the others of its statement land', async () => {
    await withDatabase(async (database, store) => {
      const prefix = `refused-${randomBytes(4).toString('hex')}`;
      await store.appendToStream(`${prefix}-warm`, [newEvent()], 'no_stream');
      const query = mock.method(database.pool, 'query');
      try {
        // jsonb has no place for U+0000: the whole statement is refused (SQLSTATE 22P05).
        const outcomes = await Promise.allSettled([
          store.appendToStream(`${prefix}-first`, [newEvent()], 'no_stream'),
          store.appendToStream(`${prefix}-good`, [newEvent()], 'no_stream'),
          store.appendToStream(
            `${prefix}-bad`,
            [newEvent('Bad', { text: 'a\u0000b' })],
            'no_stream',
          ),
          store.appendToStream(`${prefix}-also-good`, [newEvent()], 'no_stream'),
        ]);
        assert.deepEqual(
          outcomes.map((outcome) => outcome.status),
          ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
        );
        assert.equal((outcomes[2] as PromiseRejectedResult).reason.code, '22P05');
        // The three queued behind the first went in one statement, then one by one.
        const appendStatements = query.mock.calls.filter(
          (call) => (call.arguments[0] as { name?: string }).name === 'stowage-append-to-streams',
        );
        assert.equal(appendStatements.length, 5);
      } finally {
        query.mock.restore();
      }
      assert.deepEqual((await store.readStream(`${prefix}-bad`)).length, 0);
      assert.deepEqual((await store.readStream(`${prefix}-also-good`)).length, 1);
    });
  });
});

describe('PostgresEventStore group commit, connection lost', () => {
  test('a batch whose answer is lost may have committed: its appends fail as unknown, never as conflicts', async () => {
    const database = await createTestDatabase();
    const proxy = await answerDroppingProxy(new URL(database.url));
    const pool = createPool(proxy.url, 5);
    try {
      const store = new PostgresEventStore(pool, database.connect);
      const prefix = `lost-${randomBytes(4).toString('hex')}`;
      await store.appendToStream(`${prefix}-warm`, [newEvent()], 'no_stream');
      // The first append goes alone; the two queued behind it go together, and PostgreSQL's
      // answer to their statement never reaches the service: its connection is reset instead.
      proxy.dropAnswerTo(`${prefix}-a`);
      const outcomes = await Promise.allSettled(
        ['first', 'a', 'b'].map((name) =>
          store.appendToStream(`${prefix}-${name}`, [newEvent()], 'no_stream'),
        ),
      );

      assert.equal(outcomes[0]!.status, 'fulfilled');
      for (const outcome of outcomes.slice(1)) {
        assert.equal(outcome.status, 'rejected');
        assert.notEqual(outcome.reason.name, 'StreamConflictError', String(outcome.reason));
      }
      // They did commit: told "conflict", a caller would drop the key its landed event names.
      const { rows } = await database.pool.query<{ stream_name: string }>(
        'SELECT stream_name FROM events WHERE stream_name LIKE $1 ORDER BY stream_name',
        [`${prefix}-%`],
      );
      assert.deepEqual(
        rows.map((row) => row.stream_name),
        ['a', 'b', 'first', 'warm'].map((name) => `${prefix}-${name}`),
      );
    } finally {
      await pool.end();
      await proxy.close();
      await database.drop();
    }
  });
});

/**
 * A TCP relay to the test database that, once armed, passes on the first client message that
 * contains `marker`, withholds the server's answer and resets the client's connection.
 */
async function answerDroppingProxy(target: URL) {
  let marker: string | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    let dropping = false;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        if (!dropping) [client, upstream].forEach((other) => other.destroy());
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (marker && chunk.includes(marker)) {
        marker = undefined;
        dropping = true;
        // Long enough for PostgreSQL to commit what it was sent.
        setTimeout(() => {
          client.resetAndDestroy();
          upstream.destroy();
        }, 300);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!dropping) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    dropAnswerTo(text: string) {
      marker = text;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('PostgresEventStore read batching', () => {
  test('concurrent stream reads share a few statements, and each gets its own range', async () => {
    await withDatabase(async (database, store) => {
      const prefix = `reads-${randomBytes(4).toString('hex')}`;
      const streams = Array.from({ length: 40 }, (_, n) => `${prefix}-${n}`);
      for (const [n, stream] of streams.entries()) {
        await store.appendToStream(
          stream,
          Array.from({ length: 1 + (n % 5) }, () => newEvent('Step', { stream, n })),
          'no_stream',
        );
      }
      const query = mock.method(database.pool, 'query');
      try {
        // Every stream from revision n % 3 on, and every other one capped at 2 events.
        const reads = await Promise.all([
          ...streams.map((stream, n) => store.readStream(stream, n % 3, n % 2 ? 2 : undefined)),
          store.readStream(`${prefix}-missing`),
        ]);

        // The first read goes at once, alone; those that arrived meanwhile go in the next one.
        assert.ok(query.mock.callCount() <= 3, `${query.mock.callCount()} statements for 41 reads`);
        for (const [n, stream] of streams.entries()) {
          const from = n % 3;
          const to = Math.min(1 + (n % 5), n % 2 ? from + 2 : Infinity);
          assert.deepEqual(
            reads[n]!.map((event) => [event.stream, event.revision]),
            Array.from({ length: Math.max(0, to - from) }, (_, k) => [stream, from + k]),
          );
        }
        assert.deepEqual(reads[40], []);
      } finally {
        query.mock.restore();
      }
    });
  });
});
