import { describe } from 'node:test';
import { EventStoreDbEventStore } from '../../../src/infra/event-store/eventstoredb-event-store.ts';
import { eventStoreContract } from './event-store-contract.ts';

const url = process.env.EVENTSTORE_URL;

if (url) {
  eventStoreContract('EventStoreDB contract', async () => {
    const store = new EventStoreDbEventStore(url);
    return { store, cleanup: () => store.close() };
  });
} else {
  console.log('SKIPPED: EventStoreDB contract (set EVENTSTORE_URL)');
  describe('EventStoreDB contract', { skip: 'set EVENTSTORE_URL' }, () => {});
}
