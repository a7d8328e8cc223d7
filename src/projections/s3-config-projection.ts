import { instanceStreamCategory } from '../domain/s3-config.ts';
import { s3ConfigEventTypes } from '../domain/s3-config-events.ts';
import type { ProjectionDefinition } from '../event-sourcing/projection/definition.ts';
import {
  foldBatch,
  instanceOfStream,
  type FoldedS3Configs,
  type S3ConfigRecord,
} from './s3-config-fold.ts';
import {
  loadRecords,
  s3ConfigChangedChannel,
  s3ConfigTables,
  upsertRecords,
} from './s3-config-table.ts';

/** Names the projection's checkpoint (and its locks). */
export const s3ConfigProjectionName = 's3-config';

/** What the projection needs of the keyring (InstanceKeyring fits): crypto-shredding, idempotent. */
export interface KeyShredder {
  shred(keyId: string): Promise<void>;
}

export type S3ConfigProjection = ProjectionDefinition<S3ConfigRecord, FoldedS3Configs>;

/**
 * The read model of every instance's S3 config, from the instance-s3- streams; disabling an
 * instance destroys its key material through `keys`.
 */
export function s3ConfigProjection(keys: KeyShredder): S3ConfigProjection {
  return {
    name: s3ConfigProjectionName,
    category: instanceStreamCategory,
    eventTypes: s3ConfigEventTypes,
    tables: s3ConfigTables,
    changedChannel: s3ConfigChangedChannel,
    keyOfEvent: (event) => instanceOfStream(event.stream),
    keyOfRow: (record) => record.instance,
    load: loadRecords,
    fold: foldBatch,
    async write(db, table, folded) {
      // Keys are destroyed (on other connections, beside the upsert) before the batch's
      // transaction commits: the event is already in the log, so destroying early is never wrong,
      // and a crash or rollback after it only means destroying again next time (destroy is
      // idempotent). After the commit, a crash would lose the destruction for good.
      await Promise.all([
        upsertRecords(db, table, folded.rows),
        shredAll(keys, folded.keysToShred),
      ]);
    },
  };
}

const destroyConcurrency = 4;

async function shredAll(keys: KeyShredder, keyIds: readonly string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keyIds.length) await keys.shred(keyIds[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(destroyConcurrency, keyIds.length) }, worker));
}
