/**
 * The S3 storage configuration of one WhatsApp instance, as a Decider: commands are decided
 * against the state folded from the instance's events. Pure: no I/O, no clock, no randomness;
 * whatever needs those (sealing, keyed digests, time) arrives inside the command.
 */
import { StowageError } from '../shared/errors.ts';

/** The non-secret fields, as stored and as answered. */
export interface S3Settings {
  region: string;
  bucket: string;
  accessKey: string;
  /** Empty for AWS itself. */
  endpoint: string;
  /** Empty, or ends with exactly one '/'. */
  pathPrefix: string;
  /**
   * Where the bucket's objects are publicly readable (a CDN or a public bucket), ending with '/':
   * completed uploads then link there for good. Absent: links are presigned and expire.
   */
  publicBaseUrl?: string | undefined;
}

/** Who asked: the kind of token and its id, never the token. */
export interface Actor {
  tokenKind: 'account' | 'instance';
  tokenId: string;
}

/**
 * The secret key as a command carries it: a keyed digest under the instance's current key
 * material (so an unchanged secret is recognised without an unkeyed hash), and, when the shell
 * saw it differs from the stored one, the secret sealed to that key material.
 */
export interface SubmittedSecret {
  keyId: string;
  mac: string;
  ciphertext?: string;
}

/**
 * The UpdateS3Config command as the decider takes it: the request to enable (with settings) or
 * disable an instance's S3 storage, its secret already sealed by the shell.
 */
export type S3ConfigCommand =
  | {
      type: 'UpdateS3Config';
      enabled: true;
      instance: string;
      settings: S3Settings;
      /** Absent: keep the stored secret (only possible while enabled). */
      secret?: SubmittedSecret | undefined;
      actor: Actor;
      at: string;
      /** From If-Match: the revision the client last saw. */
      expectedRevision?: number;
    }
  | {
      type: 'UpdateS3Config';
      enabled: false;
      instance: string;
      actor: Actor;
      at: string;
      expectedRevision?: number;
    };

export type SealedSecretChange =
  { change: 'sealed'; keyId: string; mac: string; ciphertext: string } | { change: 'unchanged' };

export type S3ConfigEvent =
  | {
      type: 'S3ConfigUpdated';
      data: S3Settings & {
        schemaVersion: 1;
        instance: string;
        secret: SealedSecretChange;
        actor: Actor;
        at: string;
      };
    }
  | {
      type: 'S3ConfigDisabled';
      data: {
        schemaVersion: 1;
        instance: string;
        /** The key material destroyed with this event; every earlier ciphertext is now unreadable. */
        keyId: string;
        actor: Actor;
        at: string;
      };
    };

export type S3ConfigState =
  | { status: 'unconfigured'; revision: number | null }
  | { status: 'disabled'; revision: number }
  | {
      status: 'enabled';
      revision: number;
      settings: S3Settings;
      secret: { keyId: string; mac: string };
    };

export const initialState: S3ConfigState = { status: 'unconfigured', revision: null };

export function evolve(state: S3ConfigState, event: S3ConfigEvent): S3ConfigState {
  const revision = state.revision === null ? 0 : state.revision + 1;
  switch (event.type) {
    case 'S3ConfigUpdated': {
      const { secret } = event.data;
      const kept = state.status === 'enabled' ? state.secret : undefined;
      const current = secret.change === 'sealed' ? { keyId: secret.keyId, mac: secret.mac } : kept;
      if (!current) throw new Error(`S3ConfigUpdated at revision ${revision} keeps no secret`);
      return {
        status: 'enabled',
        revision,
        settings: settingsOf(event.data),
        secret: current,
      };
    }
    case 'S3ConfigDisabled':
      return { status: 'disabled', revision };
  }
}

/** A command that cannot be carried out as asked; `field` names the request field at fault. */
export class S3ConfigRejectedError extends StowageError {
  declare readonly code: 'secret-required' | 'revision-mismatch';

  constructor(
    code: 'secret-required' | 'revision-mismatch',
    message: string,
    readonly field?: string,
  ) {
    super(code, message);
  }
}

export function decide(command: S3ConfigCommand, state: S3ConfigState): S3ConfigEvent[] {
  if (command.expectedRevision !== undefined && command.expectedRevision !== state.revision) {
    throw new S3ConfigRejectedError(
      'revision-mismatch',
      `S3 configuration is at revision ${state.revision ?? 'none'}, not ${command.expectedRevision}`,
    );
  }
  if (!command.enabled) {
    // Disabling what is not enabled changes nothing, so it records nothing.
    if (state.status !== 'enabled') return [];
    return [
      {
        type: 'S3ConfigDisabled',
        data: {
          schemaVersion: 1,
          instance: command.instance,
          keyId: state.secret.keyId,
          actor: command.actor,
          at: command.at,
        },
      },
    ];
  }
  const secret = secretChange(command.secret, state);
  if (
    secret.change === 'unchanged' &&
    state.status === 'enabled' &&
    sameSettings(state.settings, command.settings)
  ) {
    return [];
  }
  return [
    {
      type: 'S3ConfigUpdated',
      data: {
        schemaVersion: 1,
        instance: command.instance,
        ...command.settings,
        secret,
        actor: command.actor,
        at: command.at,
      },
    },
  ];
}

/**
 * Whether a submitted secret must be sealed anew: only when it differs from the stored one, as
 * told by the keyed digest under the same key material.
 */
export function needsSealing(secret: Omit<SubmittedSecret, 'ciphertext'>, state: S3ConfigState) {
  return !(
    state.status === 'enabled' &&
    state.secret.keyId === secret.keyId &&
    state.secret.mac === secret.mac
  );
}

function secretChange(
  secret: SubmittedSecret | undefined,
  state: S3ConfigState,
): SealedSecretChange {
  if (!secret) {
    if (state.status === 'enabled') return { change: 'unchanged' };
    throw new S3ConfigRejectedError(
      'secret-required',
      'secretKey is required to enable S3 storage',
      'secretKey',
    );
  }
  if (!needsSealing(secret, state)) return { change: 'unchanged' };
  if (!secret.ciphertext) {
    throw new Error('a changed secret reached decide without its ciphertext');
  }
  return { change: 'sealed', keyId: secret.keyId, mac: secret.mac, ciphertext: secret.ciphertext };
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

/** Just the settings of an event or row; publicBaseUrl only when there is one. */
export function settingsOf(fields: S3Settings): S3Settings {
  const { region, bucket, accessKey, endpoint, pathPrefix, publicBaseUrl } = fields;
  return {
    region,
    bucket,
    accessKey,
    endpoint,
    pathPrefix,
    ...(publicBaseUrl === undefined ? {} : { publicBaseUrl }),
  };
}

/** What the API answers about a configuration: the non-secret fields, empty when not enabled. */
export function publicView(state: S3ConfigState): S3Settings & { enabled: boolean } {
  if (state.status === 'enabled') return { enabled: true, ...state.settings };
  return { enabled: false, region: '', bucket: '', accessKey: '', endpoint: '', pathPrefix: '' };
}

export function instanceStream(instance: string): string {
  return `${instanceStreamCategory}${instance}`;
}

export const instanceStreamCategory = 'instance-s3-';
