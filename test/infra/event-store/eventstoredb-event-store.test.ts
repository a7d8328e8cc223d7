import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventStoreDBClient } from '@eventstore/db-client';
import { clientConnectionString } from '../../../src/infra/event-store/eventstoredb-connection-string.ts';
import { EventStoreDbEventStore } from '../../../src/infra/event-store/eventstoredb-event-store.ts';
import type { FeedEvent } from '../../../src/event-sourcing/projection/event-feed.ts';
import { eventStoreContract, newEvent, uniqueCategory } from './event-store-contract.ts';

const url = process.env.EVENTSTORE_URL;

if (url) {
  eventStoreContract('EventStoreDB contract', async () => {
    const store = new EventStoreDbEventStore(url);
    return { store, cleanup: () => store.close() };
  });

  describe('EventStoreDB only', () => {
    let store: EventStoreDbEventStore;
    let client: EventStoreDBClient;
    before(() => {
      store = new EventStoreDbEventStore(url);
      client = EventStoreDBClient.connectionString(clientConnectionString(url));
    });
    after(async () => {
      await store?.close();
      await client?.dispose();
    });

    test('a hard-deleted stream reaches the feed as an undecodable record in its place', async () => {
      const { category } = uniqueCategory();
      await store.appendToStream(`${category}a`, [newEvent()], 'no_stream');
      await client.tombstoneStream(`${category}a`);
      await store.appendToStream(`${category}b`, [newEvent()], 'no_stream');
      const seen: FeedEvent[] = [];
      const stop = new AbortController();
      await store.subscribe(
        category,
        null,
        async (events) => {
          seen.push(...events);
          if (seen.some((event) => event.stream === `${category}b`)) stop.abort();
        },
        { signal: stop.signal, maxBatch: 100 },
      );
      assert.deepEqual(
        seen.map((event) => [event.stream, event.undecodable]),
        [
          [`${category}a`, undefined],
          [`${category}a`, 'the tombstone of a deleted stream'],
          [`${category}b`, undefined],
        ],
      );
    });

    test('two clients of one server name the same log', async () => {
      const other = new EventStoreDbEventStore(url);
      try {
        assert.deepEqual(await other.logIdentity(), await store.logIdentity());
      } finally {
        await other.close();
      }
    });
  });
} else {
  console.log('SKIPPED: EventStoreDB contract and EventStoreDB-only tests (set EVENTSTORE_URL)');
  describe('EventStoreDB contract', { skip: 'set EVENTSTORE_URL' }, () => {});
  describe('EventStoreDB only', { skip: 'set EVENTSTORE_URL' }, () => {});
}
