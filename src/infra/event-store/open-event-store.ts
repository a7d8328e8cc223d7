import type { EventStore } from '../../event-sourcing/event-store.ts';
import type { EventFeed } from '../../event-sourcing/projection/event-feed.ts';
import type { Settings } from '../../settings.ts';
import type { Database } from '../postgres/database.ts';
import { PostgresEventStore } from './postgres-event-store.ts';

export interface OpenedEventStore {
  store: EventStore & EventFeed;
  name: 'eventstoredb' | 'postgres';
  close: () => Promise<void>;
}

/**
 * The event store the settings name: EventStoreDB when EVENTSTORE_URL is set, else the
 * PostgreSQL store. EventStoreDB's client (gRPC and protobuf, about 30 MiB resident) is loaded
 * only when it is used, so that no process on the PostgreSQL store pays for it.
 */
export async function openEventStore(
  settings: Settings,
  database: Database,
): Promise<OpenedEventStore> {
  if (settings.EVENTSTORE_URL) {
    const { EventStoreDbEventStore } = await import('./eventstoredb-event-store.ts');
    const store = new EventStoreDbEventStore(settings.EVENTSTORE_URL);
    return { store, name: 'eventstoredb', close: () => store.close() };
  }
  return {
    store: new PostgresEventStore(database.pool, database.connect),
    name: 'postgres',
    close: async () => {},
  };
}
