import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { RecordedEvent as EsdbRecordedEvent } from '@eventstore/db-client';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { decodeRecord } from '../../src/infra/event-store/eventstoredb-records.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { CheckpointOfAnotherLogError } from '../../src/event-sourcing/projection/checkpoints.ts';
import type { EventFeed } from '../../src/event-sourcing/projection/event-feed.ts';
import { PoisonEventError } from '../../src/event-sourcing/projection/project-batch.ts';
import { projectionLagSeconds } from '../../src/event-sourcing/projection/projection-lag.ts';
import { replayReadModel } from '../../src/event-sourcing/projection/replay.ts';
import {
  s3ConfigProjection,
  s3ConfigProjectionName,
} from '../../src/projections/s3-config-projection.ts';
import { commandSide, enabling } from '../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { capturingLogger, noKeys, projectorOver, reached } from './support/projection-harness.ts';
import { livePosition, readModel } from './support/read-model.ts';
import { initSealing } from '../../src/infra/sealing.ts';
await initSealing();

async function logColumns(database: TestDatabase) {
  const { rows } = await database.pool.query<{ log_store: string | null; log_id: string | null }>(
    'SELECT log_store, log_id FROM projection_checkpoints WHERE name = $1',
    [s3ConfigProjectionName],
  );
  return rows[0];
}

describe('checkpoints name the event log their position is in', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  before(async () => {
    database = await createTestDatabase();
    store = new PostgresEventStore(database.pool, database.connect);
  });
  after(() => database?.drop());

  test('the Postgres log is named by its cluster and database, the same from every process', async () => {
    const identity = await store.logIdentity();
    const other = new PostgresEventStore(database.pool, database.connect);
    assert.deepEqual(await other.logIdentity(), identity);
    assert.equal(identity.store, 'postgres');
    assert.match(identity.id, /^\d+\/stowage_test_[0-9a-f]+$/);
  });

  test('a checkpoint written reading EventStoreDB makes the projector refuse, telling the operator to replay', async () => {
    const side = commandSide(database);
    const first = await side.handle(enabling('alpha', 'first-secret'));
    await database.pool.query(
      `INSERT INTO projection_checkpoints (name, position_major, position_minor, log_store, log_id)
       VALUES ($1, 123456, 123400, 'eventstoredb', 'c5a5d0c4-5f1e-4a7e-9c53-2f4f0e1b7d11')`,
      [s3ConfigProjectionName],
    );
    const { logger, lines } = capturingLogger();

    const projector = projectorOver(database, { logger });

    await assert.rejects(projector.done, (error: unknown) => {
      assert.ok(error instanceof CheckpointOfAnotherLogError);
      assert.match(
        error.message,
        /written reading the eventstoredb event log c5a5d0c4-.* this process reads the postgres event log .*run `stowage replay`/,
      );
      return true;
    });
    const logged = lines().find((line) => line.level === 50);
    assert.match(String(logged?.msg), /run `stowage replay` to rebuild the read model/);
    assert.equal((await readModel(database.pool)).size, 0, 'nothing projected');
    assert.deepEqual(await livePosition(database.pool), [123456n, 123400n]);

    // The lag counts the whole log as unapplied: the foreign position means nothing here.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(
      (await projectionLagSeconds(database.pool, store, s3ConfigProjection(noKeys))()) >= 0.05,
    );

    // What the message says to do: the replay rebuilds from this log and takes the checkpoint over.
    const outcome = await replayReadModel(
      { definition: s3ConfigProjection(noKeys), pool: database.pool, feed: store },
      { verify: false },
    );
    assert.equal(outcome.swapped, true);
    assert.deepEqual(await logColumns(database), {
      log_store: 'postgres',
      log_id: (await store.logIdentity()).id,
    });
    assert.deepEqual(await livePosition(database.pool), first.position);

    const resumed = projectorOver(database);
    try {
      const second = await side.handle(enabling('beta', 'second-secret'));
      await reached(resumed, second.position ?? null);
      assert.deepEqual([...(await readModel(database.pool)).keys()].sort(), ['alpha', 'beta']);
    } finally {
      await resumed.stop();
    }
  });

  test('a checkpoint from before logs were recorded is taken as this log and named on the next write', async () => {
    await database.pool.query(
      'UPDATE projection_checkpoints SET log_store = NULL, log_id = NULL WHERE name = $1',
      [s3ConfigProjectionName],
    );
    const side = commandSide(database);
    const projector = projectorOver(database);
    try {
      const change = await side.handle(enabling('gamma', 'third-secret'));
      await reached(projector, change.position ?? null);
    } finally {
      await projector.stop();
    }
    assert.deepEqual(await logColumns(database), {
      log_store: 'postgres',
      log_id: (await store.logIdentity()).id,
    });
  });
});

describe('an undecodable EventStoreDB record in the feed', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database?.drop());

  test('takes the poison-event path: same log line, the checkpoint just before it, projection stopped', async () => {
    const store = new PostgresEventStore(database.pool, database.connect);
    const side = commandSide(database);
    const good = await side.handle(enabling('tomb', 'secret'));
    const stream = instanceStream('tomb');
    // What a hard-deleted stream leaves in $all, decoded as the EventStoreDB adapter does, placed
    // right after the real event in the Postgres log.
    const tombstone = decodeRecord({
      streamId: stream,
      id: randomUUID(),
      revision: 9_223_372_036_854_775_807n,
      type: '$streamDeleted',
      data: new Uint8Array(),
      metadata: undefined,
      isJson: false,
      created: new Date(),
      position: { commit: good.position![0], prepare: good.position![1] + 1n },
    } as unknown as EsdbRecordedEvent);
    const feed: EventFeed = {
      logIdentity: () => store.logIdentity(),
      firstRecordedAfter: (category, from) => store.firstRecordedAfter(category, from),
      currentTime: () => store.currentTime(),
      subscribe: (category, from, onBatch, options) =>
        store.subscribe(category, from, (events) => onBatch([...events, tombstone]), options),
    };
    const { logger, lines } = capturingLogger();

    const projector = projectorOver(database, { logger, feed });

    await assert.rejects(projector.done, (error: unknown) => {
      assert.ok(error instanceof PoisonEventError);
      assert.equal(error.event.type, '$streamDeleted');
      assert.equal(error.event.reason, 'the tombstone of a deleted stream');
      return true;
    });
    const logged = lines().find((line) => line.level === 50);
    assert.match(
      String(logged?.msg),
      /^poison event \$streamDeleted in stream instance-s3-tomb .*: the tombstone of a deleted stream; projection stopped with its checkpoint just before it$/,
    );
    assert.deepEqual(await livePosition(database.pool), good.position);
    assert.equal((await readModel(database.pool)).get('tomb')?.enabled, true);
  });
});
