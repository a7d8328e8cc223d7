import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { EventStore } from '../../src/event-sourcing/event-store.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import type { EventFeed } from '../../src/event-sourcing/projection/event-feed.ts';
import type { Projector } from '../../src/event-sourcing/projection/projector.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { projectorOver } from './support/projection-harness.ts';
import { expectedRow, readModel, waitUntil } from './support/read-model.ts';
import {
  appendHistories,
  newEvent,
  randomHistory,
  seededRandom,
  updated,
} from './support/s3-config-workload.ts';

export interface FeedUnderTest {
  store: EventStore & EventFeed;
  cleanup(): Promise<void>;
}

/**
 * What the projection must do over any event-store adapter: the read model in a throwaway
 * Postgres database, the events in the adapter (which may be shared with other runs, so every
 * test uses instance names of its own).
 */
export function projectionContract(
  name: string,
  makeFeed: (database: TestDatabase) => Promise<FeedUnderTest>,
): void {
  describe(name, () => {
    let database: TestDatabase;
    let underTest: FeedUnderTest;
    let projector: Projector;
    before(async () => {
      database = await createTestDatabase();
      underTest = await makeFeed(database);
      projector = projectorOver(database, { feed: underTest.store, maxBatch: 100 });
    });
    after(async () => {
      await projector?.stop();
      await underTest?.cleanup();
      await database?.drop();
    });

    const unique = () => `c${randomBytes(4).toString('hex')}`;

    async function assertProjected(instances: readonly string[]) {
      const expected = new Map(
        await Promise.all(
          instances.map(async (instance) => {
            const events = await underTest.store.readStream(instanceStream(instance));
            return [instance, expectedRow(events)] as const;
          }),
        ),
      );
      await waitUntil(
        async () => {
          const rows = await readModel(database.pool);
          return instances.every(
            (instance) => rows.get(instance)?.revision === expected.get(instance)?.revision,
          );
        },
        { what: 'the projection to reach every instance' },
      );
      const rows = await readModel(database.pool);
      for (const instance of instances) {
        assert.deepEqual(rows.get(instance), expected.get(instance), `row of ${instance}`);
      }
    }

    test('appends from several writers while it runs end up as the fold of each stream', async () => {
      const prefix = unique();
      const random = seededRandom(3);
      const histories = new Map(
        Array.from({ length: 40 }, (_, n) => {
          const instance = `${prefix}-${n}`;
          return [instance, randomHistory(instance, 6, random)];
        }),
      );
      await appendHistories(underTest.store, histories, { concurrency: 6 });
      await assertProjected([...histories.keys()]);
    });

    test('an event of an unknown type is skipped, and the revision still moves on', async () => {
      const instance = unique();
      const stream = instanceStream(instance);
      const settings = {
        region: 'eu-west-1',
        bucket: 'b',
        accessKey: 'AK',
        endpoint: '',
        pathPrefix: '',
      };
      await underTest.store.appendToStream(
        stream,
        [
          updated(instance, settings, { keyId: 'k', ciphertext: 'c' }),
          newEvent('S3ConfigAudited', { by: 'someone' }),
        ],
        'no_stream',
      );
      await assertProjected([instance]);
      assert.ok(projector.stats().unknown >= 1);
    });
  });
}
