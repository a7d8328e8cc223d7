import { comparePositions, type LogPosition } from '../event-sourcing/event-store.ts';

/**
 * Read-your-writes without asking: the last log position this process appended for each instance,
 * until it learns that the projection has passed it. A GET of an instance found here waits for
 * its position; one not found here (nothing pending) costs nothing. Bounded: beyond `limit`, the
 * least recently written instances are forgotten, and their next GET does not wait.
 */
export class OwnWrites {
  // A Map iterates in insertion order: re-inserting on each write keeps the oldest first.
  private readonly pending = new Map<string, LogPosition>();

  constructor(private readonly limit = ownWritesKept) {}

  appended(instance: string, position: LogPosition): void {
    const known = this.pending.get(instance);
    if (known && comparePositions(known, position) >= 0) return;
    this.pending.delete(instance);
    this.pending.set(instance, position);
    if (this.pending.size > this.limit) this.pending.delete(this.pending.keys().next().value!);
  }

  pendingFor(instance: string): LogPosition | undefined {
    return this.pending.get(instance);
  }

  /** The projection has reached `position`: every write at or before it is readable now. */
  passed(position: LogPosition): void {
    for (const [instance, pending] of this.pending) {
      if (comparePositions(pending, position) <= 0) this.pending.delete(instance);
    }
  }

  get size(): number {
    return this.pending.size;
  }
}

// An entry is an instance name and two bigints, some 200 bytes: a few MiB at most.
const ownWritesKept = 10_000;
