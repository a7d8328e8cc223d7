import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EventStore } from '../../src/event-sourcing/event-store.ts';
import { collectUnreferencedKeys } from '../../src/commands/key-collector.ts';
import { createUpdateS3ConfigHandler } from '../../src/commands/update-s3-config.handler.ts';
import { foldS3Config } from '../../src/commands/s3-config-stream.ts';
import { instanceStream } from '../../src/domain/s3-config.ts';
import { postgresUnreferencedKeys } from '../../src/infra/postgres/unreferenced-keys.ts';
import { commandSide, enabling } from '../support/command-side.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

let database: TestDatabase;
let side: ReturnType<typeof commandSide>;
before(async () => {
  database = await createTestDatabase();
  side = commandSide(database);
});
after(() => database?.drop());

/** The real store, but the append's answer is lost: before or after it commits. */
function connectionLost(when: 'before-commit' | 'after-commit'): EventStore {
  return {
    readStream: (stream, from) => side.eventStore.readStream(stream, from),
    async appendToStream(stream, events, expected) {
      if (when === 'after-commit') await side.eventStore.appendToStream(stream, events, expected);
      throw new Error('Connection terminated unexpectedly');
    },
  };
}

const keysOf = async (instance: string) =>
  (
    await database.pool.query<{ key_id: string }>(
      'SELECT key_id FROM instance_keys WHERE instance_name = $1 ORDER BY created_at',
      [instance],
    )
  ).rows.map((row) => row.key_id);

const collect = (graceMs: number) =>
  collectUnreferencedKeys({
    store: postgresUnreferencedKeys(database.pool),
    eventStore: side.eventStore,
    graceMs,
  });

describe('keys whose append outcome is unknown', () => {
  test('are kept when the append committed but its answer was lost, and the event opens', async () => {
    const handle = createUpdateS3ConfigHandler({
      eventStore: connectionLost('after-commit'),
      keyring: side.keyring,
    });
    await assert.rejects(handle(enabling('committed', 'the-secret')), /Connection terminated/);

    const state = foldS3Config(await side.eventStore.readStream(instanceStream('committed')));
    assert.equal(state.status, 'enabled');
    const keyId = state.status === 'enabled' ? state.secret.keyId : '';
    assert.deepEqual(await keysOf('committed'), [keyId]);
    assert.ok(await side.keyring.openKeypair(keyId), 'the event can still be opened');

    // No projector runs here, so the read model does not name the key: the log keeps it.
    assert.deepEqual(await collect(0), { collected: 0, kept: 1 });
    assert.deepEqual(await keysOf('committed'), [keyId]);
  });

  test('are kept when nothing was appended, and collected once older than the grace period', async () => {
    const handle = createUpdateS3ConfigHandler({
      eventStore: connectionLost('before-commit'),
      keyring: side.keyring,
    });
    await assert.rejects(handle(enabling('lost', 'the-secret')), /Connection terminated/);
    assert.deepEqual(await side.eventStore.readStream(instanceStream('lost')), []);
    const [orphan] = await keysOf('lost');
    assert.ok(orphan, 'the key of an unknown outcome is not deleted at once');

    assert.equal((await collect(60 * 60_000)).collected, 0, 'younger than the grace period');
    assert.deepEqual(await keysOf('lost'), [orphan]);

    const outcome = await collect(0);
    assert.equal(outcome.collected, 1);
    assert.deepEqual(await keysOf('lost'), []);
    assert.ok((await keysOf('committed')).length === 1, 'the referenced key survives');
  });

  test('an orphan of an instance that is enabled with another key is collected; its key stays', async () => {
    await side.handle(enabling('busy', 'first'));
    const handle = createUpdateS3ConfigHandler({
      eventStore: connectionLost('before-commit'),
      keyring: side.keyring,
    });
    // Enabled with a new secret: the key stays the enablement's, so force a fresh key by an
    // orphan created the way a lost enable would.
    const orphan = await side.keyring.create('busy');
    await assert.rejects(handle(enabling('busy', 'second')), /Connection terminated/);
    const [inUse] = await keysOf('busy');

    assert.equal((await collect(0)).collected, 1);
    assert.deepEqual(await keysOf('busy'), [inUse]);
    assert.notEqual(inUse, orphan.id);
  });
});
