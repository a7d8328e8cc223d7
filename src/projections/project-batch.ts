import type pg from 'pg';
import { formatPosition, type LogPosition } from '../commands/event-store.ts';
import { inTransaction, type Pool } from '../infra/postgres/pool.ts';
import { claimCheckpoint, writeCheckpoint } from './checkpoints.ts';
import type { FeedEvent, LogIdentity } from './event-feed.ts';
import {
  foldBatch,
  instanceOfStream,
  type FoldedBatch,
  type PoisonEvent,
} from './s3-config-rows.ts';
import { announceChanges, loadRows, upsertRows, type S3ConfigTable } from './s3-config-table.ts';
import { StowageError } from '../shared/errors.ts';

/** What the projection needs of the instance keyring (InstanceKeyring fits): shredding, idempotent. */
export interface KeyShredder {
  shred(keyId: string): Promise<void>;
}

/** Where a projection writes: its table, its checkpoint, and whether readers are told. */
export interface ProjectionTarget {
  table: S3ConfigTable;
  checkpoint: string;
  announce: boolean;
}

export const liveProjection: ProjectionTarget = {
  table: 'instance_s3_config',
  checkpoint: 's3-config',
  announce: true,
};

/** An event the projection cannot apply; it stops there, with its checkpoint just before it. */
export class PoisonEventError extends StowageError {
  constructor(readonly event: PoisonEvent) {
    super(
      'poison-event',
      `poison event ${event.type} in stream ${event.stream} at revision ${event.revision} (position ${formatPosition(event.position)}): ${event.reason}`,
    );
  }
}

/**
 * One batch in one transaction. The events before a poison event are committed, then it throws
 * PoisonEventError.
 */
export async function commitBatch(
  pool: Pool,
  target: ProjectionTarget,
  checkpoint: LogPosition | null,
  events: readonly FeedEvent[],
  keys: KeyShredder,
  log: LogIdentity,
): Promise<FoldedBatch> {
  const folded = await inTransaction(pool, (client) =>
    projectBatch(client, target, checkpoint, events, keys, log),
  );
  if (folded.poison) throw new PoisonEventError(folded.poison);
  return folded;
}

/**
 * Applies one batch inside the caller's transaction: fence the checkpoint, fold the batch over the
 * stored rows, write rows and checkpoint (with `log`, the log the events come from), announce. Stops short of a poison event (reported in
 * the result, or thrown when it is the first event, leaving nothing to commit).
 */
export async function projectBatch(
  db: pg.ClientBase,
  target: ProjectionTarget,
  checkpoint: LogPosition | null,
  events: readonly FeedEvent[],
  keys: KeyShredder,
  log: LogIdentity,
): Promise<FoldedBatch> {
  if (events.length === 0) return foldBatch(new Map(), events);
  await claimCheckpoint(db, target.checkpoint, checkpoint, log);
  const instances = [...new Set(events.map((event) => instanceOfStream(event.stream) ?? ''))];
  const folded = foldBatch(await loadRows(db, target.table, instances), events);
  if (!folded.through) throw new PoisonEventError(folded.poison!); // the first event is poison
  const through = folded.through;
  const write = async () => {
    await upsertRows(db, target.table, folded.rows);
    await writeCheckpoint(db, target.checkpoint, through, log);
    if (target.announce) {
      await announceChanges(
        db,
        folded.rows.map((row) => row.instance),
      );
    }
  };
  // Keys are destroyed (on other connections) before this transaction commits: the event is
  // already in the log, so destroying early is never wrong, and a crash or rollback after it
  // only means destroying again next time (destroy is idempotent). After the commit, a crash
  // would lose the destruction for good.
  await Promise.all([write(), destroyAll(keys, folded.keysToDestroy)]);
  return folded;
}

const destroyConcurrency = 4;

async function destroyAll(keys: KeyShredder, keyIds: readonly string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keyIds.length) await keys.shred(keyIds[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(destroyConcurrency, keyIds.length) }, worker));
}
