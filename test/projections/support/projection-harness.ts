import { Writable } from 'node:stream';
import pino from 'pino';
import { comparePositions, type LogPosition } from '../../../src/event-sourcing/event-store.ts';
import { PostgresEventStore } from '../../../src/infra/event-store/postgres-event-store.ts';
import type { Logger } from '../../../src/infra/logger.ts';
import {
  startProjector,
  type Projector,
} from '../../../src/event-sourcing/projection/projector.ts';
import type { EventFeed } from '../../../src/event-sourcing/projection/event-feed.ts';
import {
  s3ConfigProjection,
  type KeyShredder,
} from '../../../src/projections/s3-config-projection.ts';
import type { TestDatabase } from '../../support/database.ts';
import { waitUntil } from './read-model.ts';

/** A logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines: () => lines };
}

export const noKeys: KeyShredder = { shred: async () => {} };

export function projectorOver(
  database: TestDatabase,
  options: { keyring?: KeyShredder; logger?: Logger; maxBatch?: number; feed?: EventFeed } = {},
): Projector {
  return startProjector({
    definition: s3ConfigProjection(options.keyring ?? noKeys),
    pool: database.pool,
    feed: options.feed ?? new PostgresEventStore(database.pool, database.connect),
    connect: database.connect,
    logger: options.logger ?? pino({ level: 'silent' }),
    ...(options.maxBatch ? { maxBatch: options.maxBatch } : {}),
  });
}

export function reached(projector: Projector, position: LogPosition | null): Promise<void> {
  return waitUntil(
    () => {
      const at = projector.stats().position;
      return position === null || (at !== null && comparePositions(at, position) >= 0);
    },
    { what: 'the projector to reach the last append' },
  );
}
