/**
 * The S3 configuration command as an Emmett user writes it: a decider over `s3config-<instance>`
 * streams. A repeat of the stored configuration decides nothing (the idempotent no-op).
 */
import { createHash } from 'node:crypto';
import type { Command, Event } from '@event-driven-io/emmett';

export interface S3Settings {
  region: string;
  bucket: string;
  accessKey: string;
  endpoint: string;
  pathPrefix: string;
  publicBaseUrl?: string | undefined;
}

export type ConfigureS3 = Command<
  'ConfigureS3',
  { instance: string; settings: S3Settings; secretKey?: string }
>;
export type DisableS3 = Command<'DisableS3', { instance: string }>;
export type S3ConfigCommand = ConfigureS3 | DisableS3;

// The secret is stored as a digest here: the peer decides on it, never returns it.
export type S3ConfigUpdated = Event<
  'S3ConfigUpdated',
  { instance: string; settings: S3Settings; secretDigest: string }
>;
export type S3ConfigDisabled = Event<'S3ConfigDisabled', { instance: string }>;
export type S3ConfigEvent = S3ConfigUpdated | S3ConfigDisabled;

export type S3ConfigState =
  | { status: 'unconfigured' }
  | { status: 'enabled'; settings: S3Settings; secretDigest: string }
  | { status: 'disabled' };

export class S3ConfigRefused extends Error {}

export const initialState = (): S3ConfigState => ({ status: 'unconfigured' });

export function evolve(state: S3ConfigState, event: S3ConfigEvent): S3ConfigState {
  switch (event.type) {
    case 'S3ConfigUpdated':
      return { status: 'enabled', ...event.data };
    case 'S3ConfigDisabled':
      return { status: 'disabled' };
  }
}

export function decide(command: S3ConfigCommand, state: S3ConfigState): S3ConfigEvent[] {
  if (command.type === 'DisableS3') {
    if (state.status !== 'enabled') return [];
    return [{ type: 'S3ConfigDisabled', data: { instance: command.data.instance } }];
  }
  const { instance, settings, secretKey } = command.data;
  const secretDigest =
    secretKey === undefined
      ? state.status === 'enabled'
        ? state.secretDigest
        : undefined
      : createHash('sha256').update(secretKey).digest('base64url');
  if (secretDigest === undefined) throw new S3ConfigRefused('secretKey is required to enable');
  if (
    state.status === 'enabled' &&
    state.secretDigest === secretDigest &&
    sameSettings(state.settings, settings)
  ) {
    return [];
  }
  return [{ type: 'S3ConfigUpdated', data: { instance, settings, secretDigest } }];
}

function sameSettings(a: S3Settings, b: S3Settings): boolean {
  return (
    a.region === b.region &&
    a.bucket === b.bucket &&
    a.accessKey === b.accessKey &&
    a.endpoint === b.endpoint &&
    a.pathPrefix === b.pathPrefix &&
    a.publicBaseUrl === b.publicBaseUrl
  );
}
