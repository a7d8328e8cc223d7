import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  comparePositions,
  formatPosition,
  type LogPosition,
} from '../../src/event-sourcing/event-store.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { assertReadModelMatchesLog, livePosition, waitUntil } from './support/read-model.ts';
import { appendHistories, randomHistory, seededRandom } from './support/s3-config-workload.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

const script = fileURLToPath(new URL('../support/projector-process.ts', import.meta.url));
const instances = 1000;
const eventsPerInstance = 20;

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
  // Every row write the projection commits, kept by the test's own trigger: an event applied
  // twice would show as the same revision written twice.
  await database.pool.query(`
    CREATE TABLE row_writes (instance_name text NOT NULL, revision bigint NOT NULL);
    CREATE FUNCTION record_row_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO row_writes VALUES (NEW.instance_name, NEW.revision); RETURN NEW; END $$;
    CREATE TRIGGER record_row_write AFTER INSERT OR UPDATE ON instance_s3_config
      FOR EACH ROW EXECUTE FUNCTION record_row_write();
  `);
});
after(() => database?.drop());

function startChild(): { child: ChildProcess; started: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, database.url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const started = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('projecting')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`projector exited early (${code})`)));
  });
  return { child, started };
}

test(
  'a projector killed with SIGKILL three times still applies every event exactly once',
  { timeout: 120_000 },
  async (t) => {
    const store = new PostgresEventStore(database.pool, database.connect);
    const random = seededRandom(Date.now() % 2 ** 31);
    const histories = new Map(
      Array.from({ length: instances }, (_, n) => {
        const instance = `crash-${n}`;
        return [instance, randomHistory(instance, eventsPerInstance, random)];
      }),
    );
    const last = (await appendHistories(store, histories, { chunk: 4 }))!;
    const checkpoint = () => livePosition(database.pool);
    const reachedEnd = async () => {
      const at = await checkpoint();
      return at !== null && comparePositions(at, last) >= 0;
    };

    let previous: LogPosition | null = null;
    for (let kill = 1; kill <= 3; kill++) {
      const { child, started } = startChild();
      await started;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 400));
      child.kill('SIGKILL');
      await once(child, 'exit');
      const at = await checkpoint();
      t.diagnostic(
        `kill ${kill}: checkpoint ${at ? formatPosition(at) : 'none'} of ${formatPosition(last)}`,
      );
      if (previous)
        assert.ok(at && comparePositions(at, previous) >= 0, 'the checkpoint never goes back');
      previous = at;
    }

    const { child, started } = startChild();
    try {
      await started;
      await waitUntil(reachedEnd, { timeoutMs: 60_000, what: 'the last projector to finish' });
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }

    assert.deepEqual(await checkpoint(), last);
    await assertReadModelMatchesLog(database.pool, store);
    const { rows } = await database.pool.query(
      `SELECT instance_name, revision, count(*)::int AS writes FROM row_writes
     GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 5`,
    );
    assert.deepEqual(rows, [], 'no revision of a row was written twice');
  },
);
