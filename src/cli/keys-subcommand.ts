import { parseArgs } from 'node:util';
import pino from 'pino';
import { collectUnreferencedKeys } from '../commands/key-collector.ts';
import { openEventStore } from '../infra/event-store/open-event-store.ts';
import {
  hasMasterKey,
  heldMasterKeyIds,
  keypairToJson,
  loadMasterKey,
} from '../infra/master-keys.ts';
import { openDatabase, type Database } from '../infra/postgres/database.ts';
import { countByMasterKey, rotateInstanceKeys } from '../infra/postgres/master-key-rotation.ts';
import { postgresUnreferencedKeys } from '../infra/postgres/unreferenced-keys.ts';
import { generateKeypair } from '../infra/sealing.ts';
import { loadSettings, type Settings } from '../settings.ts';

export const keysUsage = `  keys generate                          print a new master keypair as JSON
  keys status                            instance keys per master key id (current? held?)
  keys rotate [--dry-run] [--batch-size N]
                                          re-seal every instance key sealed to an older master
                                          key to the current one (STOWAGE_SEAL_SECRET_KEY, with
                                          the old secrets in STOWAGE_SEAL_RETIRED_SECRET_KEYS);
                                          resumable, safe next to running processes; exit 1 while
                                          keys remain on master keys not held
  keys collect [--grace-minutes N]       delete instance keys no event refers to (left by appends
                                          whose outcome was unknown), older than N minutes (60)
`;

/** `stowage keys …`: resolves to the exit code. */
export async function keysSubcommand(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'generate' && rest.length === 0) return generate();
  if (command === 'status' && rest.length === 0) return withDatabase(status);
  if (command === 'rotate') {
    const { values } = parseArgs({
      args: rest,
      options: { 'dry-run': { type: 'boolean', default: false }, 'batch-size': { type: 'string' } },
    });
    const batchSize = positive(values['batch-size'] ?? '500', '--batch-size');
    if (batchSize === undefined) return 2;
    return withDatabase((database, settings) =>
      rotate(database, settings, { dryRun: values['dry-run'], batchSize }),
    );
  }
  if (command === 'collect') {
    const { values } = parseArgs({ args: rest, options: { 'grace-minutes': { type: 'string' } } });
    const minutes = positive(values['grace-minutes'] ?? '60', '--grace-minutes');
    if (minutes === undefined) return 2;
    return withDatabase((database, settings) => collect(database, settings, minutes * 60_000));
  }
  const help = command === '--help' || command === 'help';
  (help ? process.stdout : process.stderr).write(`usage: stowage keys <command>\n\n${keysUsage}`);
  return help ? 0 : 2;
}

function positive(text: string, option: string): number | undefined {
  const value = Number(text);
  if (Number.isInteger(value) && value > 0) return value;
  process.stderr.write(`stowage keys: ${option} expects a positive whole number\n`);
  return undefined;
}

function generate(): number {
  const keypair = keypairToJson(generateKeypair());
  process.stdout.write(
    JSON.stringify({
      STOWAGE_SEAL_PUBLIC_KEY: keypair.publicKey,
      STOWAGE_SEAL_SECRET_KEY: keypair.privateKey,
    }) + '\n',
  );
  return 0;
}

// stdout carries the answer; diagnostics and progress go to stderr.
const logger = () => pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));

async function withDatabase(
  work: (database: Database, settings: Settings) => Promise<number>,
): Promise<number> {
  const settings = loadSettings();
  const database = await openDatabase(settings, logger(), { shareRunningEmbedded: true });
  try {
    return await work(database, settings);
  } finally {
    await database.close();
  }
}

/**
 * Only reads. Without a master key configured (an operator's shell missing the variables) it
 * says so, instead of making a development key and calling it current.
 */
async function status(database: Database, settings: Settings): Promise<number> {
  const masterKey = hasMasterKey(settings) ? await loadMasterKey(settings, logger()) : undefined;
  if (!masterKey) {
    process.stderr.write(
      'stowage keys status: no master key configured (STOWAGE_SEAL_PUBLIC_KEY or STOWAGE_SEAL_SECRET_KEY): none is current, none held\n',
    );
  }
  const held = new Set(masterKey ? heldMasterKeyIds(masterKey) : []);
  const counts = await countByMasterKey(database.pool);
  const masterKeys = counts.map(({ masterKeyId, instanceKeys }) => ({
    masterKeyId,
    instanceKeys,
    current: masterKeyId === masterKey?.id,
    held: held.has(masterKeyId),
  }));
  const currentMasterKeyId = masterKey?.id ?? null;
  process.stdout.write(JSON.stringify({ currentMasterKeyId, masterKeys }) + '\n');
  return 0;
}

async function rotate(
  database: Database,
  settings: Settings,
  options: { dryRun: boolean; batchSize: number },
): Promise<number> {
  // Without it the development key would become the current one: every instance key re-sealed
  // to a key that no worker holds and that lives only in this data directory.
  if (!settings.STOWAGE_SEAL_SECRET_KEY) {
    process.stderr.write(
      'stowage keys rotate: set STOWAGE_SEAL_SECRET_KEY to the current master secret (and STOWAGE_SEAL_RETIRED_SECRET_KEYS to the old ones)\n',
    );
    return 2;
  }
  const masterKey = await loadMasterKey(settings, logger());
  const held = new Set(heldMasterKeyIds(masterKey));
  const older = (await countByMasterKey(database.pool)).filter(
    (c) => c.masterKeyId !== masterKey.id,
  );
  const total = older.reduce((sum, c) => sum + c.instanceKeys, 0);
  if (options.dryRun) {
    const reseal = older.filter((c) => held.has(c.masterKeyId));
    const notHeld = older.filter((c) => !held.has(c.masterKeyId));
    process.stdout.write(
      JSON.stringify({
        currentMasterKeyId: masterKey.id,
        dryRun: true,
        wouldReseal: reseal.reduce((sum, c) => sum + c.instanceKeys, 0),
        notHeld: Object.fromEntries(notHeld.map((c) => [c.masterKeyId, c.instanceKeys])),
      }) + '\n',
    );
    return notHeld.length === 0 ? 0 : 1;
  }
  const started = Date.now();
  process.stderr.write(`stowage keys rotate: ${total} instance keys on older master keys\n`);
  const outcome = await rotateInstanceKeys(database.pool, masterKey, {
    batchSize: options.batchSize,
    onBatch: ({ resealed }) => process.stderr.write(`stowage keys rotate: ${resealed} re-sealed\n`),
  });
  const seconds = (Date.now() - started) / 1000;
  const notHeld = Object.fromEntries(outcome.notHeld);
  process.stderr.write(
    `stowage keys rotate: done, ${outcome.resealed} instance keys re-sealed to ${masterKey.id} in ${seconds.toFixed(1)} s` +
      (outcome.notHeld.size > 0
        ? `; left on master keys not held: ${JSON.stringify(notHeld)}`
        : '') +
      '\n',
  );
  process.stdout.write(
    JSON.stringify({
      currentMasterKeyId: masterKey.id,
      resealed: outcome.resealed,
      notHeld,
      seconds,
    }) + '\n',
  );
  return outcome.notHeld.size === 0 ? 0 : 1;
}

async function collect(database: Database, settings: Settings, graceMs: number): Promise<number> {
  const log = await openEventStore(settings, database);
  try {
    const outcome = await collectUnreferencedKeys({
      store: postgresUnreferencedKeys(database.pool),
      eventStore: log.store,
      graceMs,
    });
    process.stdout.write(JSON.stringify(outcome) + '\n');
    return 0;
  } finally {
    await log.close();
  }
}
