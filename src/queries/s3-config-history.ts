import type { EventStore, RecordedEvent } from '../event-sourcing/event-store.ts';
import { initialState, publicView, settingsOf, type S3ConfigEvent } from '../domain/s3-config.ts';
import { toS3ConfigEvent } from '../domain/s3-config-events.ts';
import type { HistoryEntry } from './s3-config-query.schema.ts';

type Changes = HistoryEntry['changes'];
type View = ReturnType<typeof publicView>;

export interface HistoryPage {
  history: HistoryEntry[];
  nextAfter: number | null;
}

/**
 * One page of the instance's audit trail, oldest first, reading only the events it shows: an
 * update states every setting, so the event just before the page is all its first entry needs to
 * say what changed. Reading a page costs the same however long the stream has grown.
 */
export async function readHistoryPage(
  store: Pick<EventStore, 'readStream'>,
  stream: string,
  { after, limit }: { after?: number | undefined; limit: number },
): Promise<HistoryPage> {
  // The event at `after` (what the page starts from), the page, and one more to tell whether
  // another page follows.
  const from = after ?? 0;
  const events = await store.readStream(stream, from, limit + (after === undefined ? 1 : 2));
  if (events.some((recorded) => !toS3ConfigEvent(recorded.type, recorded.data))) {
    // An event of a type this version does not know has no entry and changes no field, so the
    // view before the page may lie further back: rare enough to read the whole stream for.
    return pageOf(auditTrail(await store.readStream(stream)), { after, limit });
  }
  const [before, page] =
    after === undefined || events[0]?.revision !== after
      ? [publicView(initialState), events]
      : [viewAfter(toS3ConfigEvent(events[0].type, events[0].data)!), events.slice(1)];
  return pageOf(auditTrail(page, before), { after, limit });
}

/**
 * The audit trail of `events`, oldest first: who changed what, field by field, from the view
 * `before` them. The secret is only ever "changed", whatever was sealed. Events of unknown types
 * have no entry.
 */
export function auditTrail(
  events: readonly RecordedEvent[],
  before: View = publicView(initialState),
): HistoryEntry[] {
  const trail: HistoryEntry[] = [];
  let view = before;
  for (const recorded of events) {
    const event = toS3ConfigEvent(recorded.type, recorded.data);
    if (!event) continue;
    const next = viewAfter(event);
    const changes = changedFields(view, next);
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
    view = next;
  }
  return trail;
}

function pageOf(
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

/** What the API shows after `event`, which needs no earlier event. */
function viewAfter(event: S3ConfigEvent): View {
  return event.type === 'S3ConfigUpdated'
    ? { enabled: true, ...settingsOf(event.data) }
    : publicView(initialState);
}

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
