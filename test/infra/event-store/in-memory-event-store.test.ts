import { InMemoryEventStore } from '../../../src/infra/event-store/in-memory-event-store.ts';
import { eventStoreContract } from './event-store-contract.ts';

eventStoreContract('InMemoryEventStore contract', async () => ({
  store: new InMemoryEventStore(),
  cleanup: async () => {},
}));
