import type { FoldedBatch } from '../event-sourcing/projection/definition.ts';
import type { FeedEvent } from '../event-sourcing/projection/event-feed.ts';
import {
  instanceStreamCategory,
  settingsOf,
  type Actor,
  type S3ConfigEvent,
  type S3Settings,
} from '../domain/s3-config.ts';
import { toS3ConfigEvent } from '../domain/s3-config-events.ts';
/**
 * The S3-config projection's functional core: a batch of recorded events folded into the
 * read-model records of the instances it touches. No I/O; the shell loads the stored records and
 * writes the outcome.
 */

/** The sealed secret in force and everything the worker needs to open it. */
export interface SealedSecretRef {
  keyId: string;
  ciphertext: string;
  /** Revision of the event that sealed it: part of the sealed envelope's context. */
  revision: number;
}

/** The read model's record of one instance's S3 config. */
export interface S3ConfigRecord {
  instance: string;
  enabled: boolean;
  settings: S3Settings;
  secret: SealedSecretRef | null;
  /** Stream revision of the last event applied. */
  revision: number;
  updatedAt: Date;
  updatedBy: Actor;
}

export interface FoldedS3Configs extends FoldedBatch<S3ConfigRecord> {
  /** Key material of enablements the batch disabled. */
  keysToShred: string[];
}

export const emptySettings: S3Settings = {
  region: '',
  bucket: '',
  accessKey: '',
  endpoint: '',
  pathPrefix: '',
};

export function instanceOfStream(stream: string): string | undefined {
  return stream.startsWith(instanceStreamCategory)
    ? stream.slice(instanceStreamCategory.length) || undefined
    : undefined;
}

export function foldBatch(
  stored: ReadonlyMap<string, S3ConfigRecord>,
  events: readonly FeedEvent[],
): FoldedS3Configs {
  const changed = new Map<string, S3ConfigRecord>();
  const folded: FoldedS3Configs = {
    rows: [],
    keysToShred: [],
    through: null,
    applied: 0,
    alreadyApplied: 0,
    unknownTypes: [],
    unknown: 0,
  };
  for (const recorded of events) {
    const step = foldOne(changed, stored, recorded);
    if (step.kind === 'poison') {
      folded.poison = {
        stream: recorded.stream,
        revision: recorded.revision,
        position: recorded.position,
        type: recorded.type,
        reason: step.reason,
      };
      break;
    }
    folded.through = recorded.position;
    if (step.kind === 'applied') {
      folded.applied++;
      changed.set(step.row.instance, step.row);
      if (step.shredKey) folded.keysToShred.push(step.shredKey);
    } else if (step.kind === 'unknown') {
      folded.unknown++;
      if (!folded.unknownTypes.includes(recorded.type)) folded.unknownTypes.push(recorded.type);
      if (step.row) changed.set(step.row.instance, step.row);
    } else {
      folded.alreadyApplied++;
    }
  }
  folded.rows = [...changed.values()].sort((a, b) => (a.instance < b.instance ? -1 : 1));
  return folded;
}

type Step =
  | { kind: 'applied'; row: S3ConfigRecord; shredKey?: string }
  | { kind: 'unknown'; row?: S3ConfigRecord }
  | { kind: 'alreadyApplied' }
  | { kind: 'poison'; reason: string };

function foldOne(
  changed: ReadonlyMap<string, S3ConfigRecord>,
  stored: ReadonlyMap<string, S3ConfigRecord>,
  recorded: FeedEvent,
): Step {
  if (recorded.undecodable) return { kind: 'poison', reason: recorded.undecodable };
  const instance = instanceOfStream(recorded.stream);
  if (!instance) return { kind: 'poison', reason: 'stream outside the instance-s3- category' };
  const current = changed.get(instance) ?? stored.get(instance);
  if (current && recorded.revision <= current.revision) return { kind: 'alreadyApplied' };

  let event: S3ConfigEvent | undefined;
  try {
    event = toS3ConfigEvent(recorded.type, recorded.data);
  } catch (error) {
    return { kind: 'poison', reason: reasonOf(error) };
  }
  // Revisions still advance past unknown events, as the command side counts them: the row's
  // revision is the ETag a client sends back as If-Match.
  if (!event) {
    return current
      ? { kind: 'unknown', row: { ...current, revision: recorded.revision } }
      : { kind: 'unknown' };
  }
  try {
    const row = evolveRow(instance, current, event, recorded.revision);
    return event.type === 'S3ConfigDisabled'
      ? { kind: 'applied', row, shredKey: event.data.keyId }
      : { kind: 'applied', row };
  } catch (error) {
    return { kind: 'poison', reason: reasonOf(error) };
  }
}

function evolveRow(
  instance: string,
  current: S3ConfigRecord | undefined,
  event: S3ConfigEvent,
  revision: number,
): S3ConfigRecord {
  const updatedAt = new Date(event.data.at);
  if (Number.isNaN(updatedAt.getTime())) throw new Error(`"at" is not a time: ${event.data.at}`);
  const common = { instance, revision, updatedAt, updatedBy: event.data.actor };
  switch (event.type) {
    case 'S3ConfigUpdated': {
      const { secret } = event.data;
      const inForce =
        secret.change === 'sealed'
          ? { keyId: secret.keyId, ciphertext: secret.ciphertext, revision }
          : current?.enabled
            ? current.secret
            : null;
      if (!inForce) throw new Error('keeps a secret while none is in force');
      return {
        ...common,
        enabled: true,
        settings: settingsOf(event.data),
        secret: inForce,
      };
    }
    case 'S3ConfigDisabled':
      return { ...common, enabled: false, settings: emptySettings, secret: null };
  }
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
