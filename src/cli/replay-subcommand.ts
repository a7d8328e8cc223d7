import { parseArgs } from 'node:util';
import pino from 'pino';
import { instanceStreamCategory } from '../domain/s3-config.ts';
import type { RowDifference } from '../event-sourcing/projection/rebuild-table.ts';
import { replayReadModel, type ReplayOutcome } from '../event-sourcing/projection/replay.ts';
import { openEventStore } from '../infra/event-store/open-event-store.ts';
import { openDatabase, type Database } from '../infra/postgres/database.ts';
import { oldestOpenTransactions } from '../infra/postgres/oldest-open-transaction.ts';
import { shredInstanceKey } from '../infra/postgres/postgres-instance-keyring.ts';
import { s3ConfigProjection } from '../projections/s3-config-projection.ts';
import { loadSettings } from '../settings.ts';
import { progressReporter } from './replay-progress.ts';

export const replayUsage = `  replay [--verify]                      rebuild the read model from the event log and swap it
                                          in; --verify compares instead (exit 1 on a difference)
`;

/** `stowage replay [--verify]`: resolves to the exit code. */
export async function replaySubcommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { verify: { type: 'boolean', default: false } } });
  const settings = loadSettings();
  // stdout carries the differences; diagnostics and progress go to stderr.
  const logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));
  const database = await openDatabase(settings, logger, { shareRunningEmbedded: true });
  const log = await openEventStore(settings, database);
  try {
    // Replaying destroys the keys of disabled configurations and opens nothing: no master key is
    // loaded, and none is made where none is configured.
    const keys = { shred: (keyId: string) => shredInstanceKey(database.pool, keyId) };
    const total = log.name === 'postgres' ? await countInstanceEvents(database) : undefined;
    const outcome = await replayReadModel(
      {
        definition: s3ConfigProjection(keys),
        pool: database.pool,
        feed: log.store,
        onProgress: progressReporter((line) => process.stderr.write(`${line}\n`), {
          ...(total === undefined ? {} : { total }),
        }),
        ...(log.name === 'postgres'
          ? { onHeldBack: (recordedAt) => void reportHeldBack(database, recordedAt) }
          : {}),
      },
      { verify: values.verify },
    );
    return report(outcome);
  } finally {
    await log.close();
    await database.close();
  }
}

function report(outcome: ReplayOutcome): number {
  const { events, differences, swapped, liveBehind } = outcome;
  if (liveBehind) {
    process.stderr.write(
      'stowage replay: the live projection is behind the log (is a projector running?); differences may be its lag\n',
    );
  }
  if (swapped) {
    process.stderr.write(
      `stowage replay: ${events} events replayed; rebuilt read model swapped in (${differences.length} instances changed)\n`,
    );
    return 0;
  }
  for (const difference of differences) process.stdout.write(`${describe(difference)}\n`);
  process.stderr.write(
    `stowage replay: ${events} events replayed; ${differences.length} instances differ from the live read model\n`,
  );
  return differences.length === 0 ? 0 : 1;
}

function describe({ key, missingFrom, columns }: RowDifference): string {
  if (missingFrom) return `${key}: missing from the ${missingFrom} read model`;
  return `${key}: ${columns.join(', ')} differ`;
}

/**
 * An operator watching a replay that does not finish is told why, and by whom: a session left
 * idle in a transaction holds the replay back for as long as it stays so.
 */
async function reportHeldBack(database: Database, recordedAt: Date): Promise<void> {
  // Without the sessions, the notice still says what the replay waits for.
  const oldest = await oldestOpenTransactions(database.pool, 3).catch(() => []);
  process.stderr.write(
    `stowage replay: waiting for events recorded at ${recordedAt.toISOString()}, held back until an older open transaction ends${oldest.length > 0 ? `; the oldest open: ${oldest.join('; ')}` : ''}\n`,
  );
}

/** For the ETA only (the replay itself reads through the feed): what the Postgres log holds. */
async function countInstanceEvents(database: Database): Promise<number> {
  const { rows } = await database.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM events WHERE stream_name LIKE $1',
    [`${instanceStreamCategory}%`],
  );
  return Number(rows[0]!.n);
}
