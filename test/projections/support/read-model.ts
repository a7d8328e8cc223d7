import assert from 'node:assert/strict';
import { foldS3Config } from '../../../src/commands/s3-config-stream.ts';
import type { LogPosition, RecordedEvent } from '../../../src/event-sourcing/event-store.ts';
import { instanceStreamCategory, publicView } from '../../../src/domain/s3-config.ts';
import type { PostgresEventStore } from '../../../src/infra/event-store/postgres-event-store.ts';
import type { Pool } from '../../../src/infra/postgres/pool.ts';
import { readCheckpoint } from '../../../src/event-sourcing/projection/checkpoints.ts';
import { s3ConfigProjectionName } from '../../../src/projections/s3-config-projection.ts';

/** The position of the live S3-config checkpoint; null before its first commit. */
export async function livePosition(pool: Pool): Promise<LogPosition | null> {
  return (await readCheckpoint(pool, s3ConfigProjectionName))?.position ?? null;
}

/** A read-model row as the tests compare it. */
export interface ComparableRow {
  enabled: boolean;
  region: string;
  bucket: string;
  accessKey: string;
  endpoint: string;
  pathPrefix: string;
  publicBaseUrl?: string | undefined;
  revision: number;
  secret: { keyId: string; ciphertext: string; revision: number } | null;
}

/** What the read model must hold, worked out from the log with the command side's own fold. */
export function expectedRow(events: readonly RecordedEvent[]): ComparableRow | undefined {
  const state = foldS3Config(events);
  if (state.status === 'unconfigured') return undefined;
  const sealing =
    state.status === 'enabled'
      ? events.findLast(
          (event) => (event.data.secret as { change?: string } | undefined)?.change === 'sealed',
        )
      : undefined;
  const sealed = sealing?.data.secret as { keyId: string; ciphertext: string } | undefined;
  return {
    ...publicView(state),
    revision: state.revision,
    secret: sealed
      ? { keyId: sealed.keyId, ciphertext: sealed.ciphertext, revision: sealing!.revision }
      : null,
  };
}

export async function expectedReadModel(
  store: PostgresEventStore,
): Promise<Map<string, ComparableRow>> {
  const streams = new Map<string, RecordedEvent[]>();
  for (const event of await store.readCategory(instanceStreamCategory, null, 1_000_000)) {
    const events = streams.get(event.stream) ?? [];
    events.push(event);
    streams.set(event.stream, events);
  }
  const expected = new Map<string, ComparableRow>();
  for (const [stream, events] of streams) {
    const row = expectedRow(events);
    if (row) expected.set(stream.slice(instanceStreamCategory.length), row);
  }
  return expected;
}

export async function readModel(
  pool: Pool,
  table = 'instance_s3_config',
): Promise<Map<string, ComparableRow>> {
  const { rows } = await pool.query(`SELECT * FROM ${table}`);
  return new Map(
    rows.map((row) => [
      row.instance_name as string,
      {
        enabled: row.enabled,
        region: row.region,
        bucket: row.bucket,
        accessKey: row.access_key,
        endpoint: row.endpoint,
        pathPrefix: row.path_prefix,
        ...(row.public_base_url === '' ? {} : { publicBaseUrl: row.public_base_url }),
        revision: Number(row.revision),
        secret:
          row.secret_key_id === null
            ? null
            : {
                keyId: row.secret_key_id,
                ciphertext: row.secret_ciphertext,
                revision: Number(row.secret_revision),
              },
      },
    ]),
  );
}

export async function assertReadModelMatchesLog(pool: Pool, store: PostgresEventStore) {
  const [actual, expected] = await Promise.all([readModel(pool), expectedReadModel(store)]);
  assert.equal(actual.size, expected.size, 'one row per configured instance');
  for (const [instance, row] of expected) {
    assert.deepEqual(actual.get(instance), row, `row of ${instance}`);
  }
}

export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, what = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
