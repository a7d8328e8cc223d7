import type pg from 'pg';
import type { LogPosition } from '../event-store.ts';
import type { FeedEvent } from './event-feed.ts';

export type Queryable = Pick<pg.ClientBase, 'query'>;

/** An event a projection cannot apply: it stops there, with its checkpoint just before it. */
export interface PoisonEvent {
  stream: string;
  revision: number;
  position: LogPosition;
  type: string;
  reason: string;
}

/** What folding one batch over the stored rows gave. */
export interface FoldedBatch<Row> {
  /** The final row of every key the batch changed. */
  rows: Row[];
  /** Position of the last event dealt with; null when the first event is poison. */
  through: LogPosition | null;
  applied: number;
  /** Events a row already includes: applied by an earlier batch. */
  alreadyApplied: number;
  /** Events of types the projection does not handle, skipped. */
  unknown: number;
  unknownTypes: string[];
  /** The event the fold stopped at; the events before it are folded, it and those after are not. */
  poison?: PoisonEvent;
}

/**
 * The live read model, and the table `stowage replay` fills beside it before swapping it in; both
 * keyed by one text column.
 */
export interface ProjectionTables {
  live: string;
  rebuild: string;
  key: string;
}

/**
 * A projection: which events it reads, how it folds a batch of them (pure), and where and how a
 * folded batch is stored. The machinery beside this file (lock, fenced checkpoints, live runner,
 * replay-and-swap) takes any definition.
 */
export interface ProjectionDefinition<Row, Folded extends FoldedBatch<Row> = FoldedBatch<Row>> {
  /** Names its checkpoint and its locks. */
  name: string;
  /** The stream category it reads, whole and in log order. */
  category: string;
  /** The event types it applies; others are skipped (and counted as unknown). */
  eventTypes: readonly string[];
  tables: ProjectionTables;
  /** Told, after each commit of the live table, the key of every row that changed. */
  changedChannel: string;
  /** Key of the row an event folds into; undefined when it belongs to none (the fold decides). */
  keyOfEvent(event: FeedEvent): string | undefined;
  keyOfRow(row: Row): string;
  /** The stored rows of `keys` in `table`. */
  load(db: Queryable, table: string, keys: readonly string[]): Promise<ReadonlyMap<string, Row>>;
  /** The functional core: no I/O. */
  fold(stored: ReadonlyMap<string, Row>, events: readonly FeedEvent[]): Folded;
  /** Stores a folded batch in `table` within the caller's transaction, before it commits. */
  write(db: Queryable, table: string, folded: Folded): Promise<void>;
}

/** Where one run of a projection writes: a table, its checkpoint, and whether readers are told. */
export interface ProjectionTarget {
  table: string;
  checkpoint: string;
  announce: boolean;
}

type Named = Pick<ProjectionDefinition<unknown>, 'name' | 'tables'>;

export function liveTarget(definition: Named): ProjectionTarget {
  return { table: definition.tables.live, checkpoint: definition.name, announce: true };
}

export function rebuildTarget(definition: Named): ProjectionTarget {
  return {
    table: definition.tables.rebuild,
    checkpoint: `${definition.name}:rebuild`,
    announce: false,
  };
}
