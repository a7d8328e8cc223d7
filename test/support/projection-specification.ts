import assert from 'node:assert/strict';
import type { NewEvent } from '../../src/event-sourcing/event-store.ts';
import type {
  FoldedBatch,
  ProjectionDefinition,
} from '../../src/event-sourcing/projection/definition.ts';
import type { FeedEvent } from '../../src/event-sourcing/projection/event-feed.ts';

/**
 * An event as appended to a stream. The specification numbers revisions per stream (unless one is
 * given, to hand an event over again) and positions in order.
 */
export type Appended = readonly [
  stream: string,
  event: NewEvent & Pick<FeedEvent, 'undecodable'>,
  revision?: number,
];

/**
 * Given/when/then for a projection's pure batch fold, after Emmett's projection specification:
 * given the events of earlier batches (folded into the stored rows), when a batch of events is
 * folded, then this outcome. No database: the fold alone.
 */
export function projectionSpecification<Row, Folded extends FoldedBatch<Row>>(
  definition: Pick<ProjectionDefinition<Row, Folded>, 'fold' | 'keyOfRow'>,
) {
  return (...given: Appended[]) => ({
    when: (...batch: Appended[]) => {
      const log = inLog([...given, ...batch]);
      const earlier = definition.fold(new Map(), log.slice(0, given.length));
      assert.equal(earlier.poison, undefined, 'the given events fold without a poison event');
      const stored = new Map(earlier.rows.map((row) => [definition.keyOfRow(row), row]));
      const folded = definition.fold(stored, log.slice(given.length));
      const events = log.slice(given.length);
      return {
        /** The outcome's fields named in `expected` equal it; `through` defaults to the last event. */
        then: (expected: Partial<Folded>) => {
          const checked = { through: events.at(-1)?.position ?? null, ...expected };
          assert.deepEqual(
            Object.fromEntries(
              Object.keys(checked).map((key) => [key, folded[key as keyof Folded]]),
            ),
            checked,
          );
        },
        /** The fold stops at the `index`th event of the batch, for `reason`. */
        thenStopsAt: (index: number, reason: RegExp) => {
          assert.deepEqual(folded.poison?.position, events[index]!.position);
          assert.match(folded.poison?.reason ?? '', reason);
          assert.deepEqual(folded.through, index === 0 ? null : events[index - 1]!.position);
        },
      };
    },
  });
}

/** The events as a feed would hand them over: revisions per stream, positions in order. */
function inLog(appended: readonly Appended[]): FeedEvent[] {
  const revisions = new Map<string, number>();
  return appended.map(([stream, event, again], n) => {
    const revision = again ?? (revisions.get(stream) ?? -1) + 1;
    revisions.set(stream, revision);
    return {
      ...event,
      stream,
      revision,
      position: [BigInt(n + 1), 0n],
      recordedAt: new Date(0),
    };
  });
}
