import type { RecordedEvent } from '../event-sourcing/event-store.ts';
import { evolve, initialState, publicView, type S3ConfigState } from '../domain/s3-config.ts';
import { toS3ConfigEvent } from '../domain/s3-config-events.ts';
import type { HistoryEntry } from './s3-config-query.schema.ts';

type Changes = HistoryEntry['changes'];

/**
 * The audit trail of one instance's stream, oldest first: who changed what, field by field. The
 * secret is only ever "changed", whatever was sealed. Events of unknown types have no entry.
 */
export function auditTrail(events: readonly RecordedEvent[]): HistoryEntry[] {
  const trail: HistoryEntry[] = [];
  let state: S3ConfigState = initialState;
  for (const recorded of events) {
    const event = toS3ConfigEvent(recorded.type, recorded.data);
    if (!event) {
      state = { ...state, revision: recorded.revision };
      continue;
    }
    const next = evolve(state, event);
    const changes = changedFields(publicView(state), publicView(next));
    if (event.type === 'S3ConfigUpdated' && event.data.secret.change === 'sealed') {
      changes.secretKey = 'changed';
    }
    trail.push({
      revision: recorded.revision,
      type: event.type,
      at: event.data.at,
      actor: { tokenKind: event.data.actor.tokenKind, tokenId: event.data.actor.tokenId },
      changes,
    });
    state = next;
  }
  return trail;
}

export interface HistoryPage {
  history: HistoryEntry[];
  nextAfter: number | null;
}

export function pageOf(
  trail: readonly HistoryEntry[],
  { after, limit }: { after?: number | undefined; limit: number },
): HistoryPage {
  const rest = after === undefined ? trail : trail.filter((entry) => entry.revision > after);
  const history = rest.slice(0, limit);
  return {
    history,
    nextAfter: rest.length > limit ? history[history.length - 1]!.revision : null,
  };
}

type View = ReturnType<typeof publicView>;

function changedFields(before: View, after: View): Changes {
  const changes: Changes = {};
  if (before.enabled !== after.enabled)
    changes.enabled = { from: before.enabled, to: after.enabled };
  const fields = [
    'region',
    'bucket',
    'accessKey',
    'endpoint',
    'pathPrefix',
    'publicBaseUrl',
  ] as const;
  for (const field of fields) {
    // Only publicBaseUrl can be absent; it shows as empty, like the other fields when disabled.
    const [from, to] = [before[field] ?? '', after[field] ?? ''];
    if (from !== to) changes[field] = { from, to };
  }
  return changes;
}
