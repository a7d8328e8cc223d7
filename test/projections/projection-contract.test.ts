import { describe } from 'node:test';
import { EventStoreDbEventStore } from '../../src/infra/event-store/eventstoredb-event-store.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { projectionContract } from './projection-contract.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

projectionContract('the projection over the Postgres event store', async (database) => ({
  store: new PostgresEventStore(database.pool, database.connect),
  cleanup: async () => {},
}));

const url = process.env.EVENTSTORE_URL;
if (url) {
  projectionContract('the projection over EventStoreDB', async () => {
    const store = new EventStoreDbEventStore(url);
    return { store, cleanup: () => store.close() };
  });
} else {
  console.log('SKIPPED: the projection over EventStoreDB (set EVENTSTORE_URL)');
  describe('the projection over EventStoreDB', { skip: 'set EVENTSTORE_URL' }, () => {});
}
