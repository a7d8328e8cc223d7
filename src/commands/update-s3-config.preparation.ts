import {
  needsSealing,
  type Actor,
  type S3ConfigCommand,
  type S3ConfigEvent,
  type S3ConfigState,
  type S3Settings,
  type SubmittedSecret,
} from '../domain/s3-config.ts';
import type { PreparedCommand } from '../event-sourcing/command-handler.ts';
import { macOf, toBase64Url } from '../infra/sealing.ts';
import { sealSecret } from '../infra/secrets/secret-envelope.ts';
import type { InstanceKey, InstanceKeyring } from './instance-keyring.ts';

/** The CQRS command behind POST /api/instance/s3/:instance, the secret still in plaintext. */
export interface UpdateS3Config {
  instance: string;
  request: S3ConfigRequest;
  actor: Actor;
  /** From If-Match. */
  expectedRevision?: number;
  requestId: string;
}

export type S3ConfigRequest =
  { enabled: true; settings: S3Settings; secretKey?: string } | { enabled: false };

export interface PreparationDeps {
  keyring: InstanceKeyring;
  onKeyShredFailed: (error: unknown, keyId: string) => void;
  now: () => Date;
}

/**
 * Turns UpdateS3Config into the decider's command on a given state: the secret's keyed digest
 * under the instance key and, when it differs from the stored one, the secret sealed to that key.
 * Looks after the key's life: a key made for a command whose events were not appended is
 * discarded; the key of a disabled configuration is destroyed once the event is in.
 */
export function prepareUpdateS3Config(deps: PreparationDeps, update: UpdateS3Config) {
  return async (
    state: S3ConfigState,
    nextRevision: number,
  ): Promise<PreparedCommand<S3ConfigCommand, S3ConfigEvent>> => {
    const keys = keyResolver(deps.keyring, update.instance, state);
    try {
      return {
        command: await toCommand(update, state, nextRevision, () => keys.resolve(), deps.now()),
        dropped: () => keys.discardCreated(),
        appended: (events) => shredDisabledKeys(deps, events),
      };
    } catch (error) {
      await keys.discardCreated();
      throw error;
    }
  };
}

async function shredDisabledKeys(deps: PreparationDeps, events: readonly S3ConfigEvent[]) {
  for (const event of events) {
    if (event.type === 'S3ConfigDisabled') {
      // After the append, never before: a failed append must leave the key usable. Should
      // this fail, the projection destroys the key when it applies the event.
      await deps.keyring
        .shred(event.data.keyId)
        .catch((error: unknown) => deps.onKeyShredFailed(error, event.data.keyId));
    }
  }
}

async function toCommand(
  update: UpdateS3Config,
  state: S3ConfigState,
  nextRevision: number,
  resolveKey: () => Promise<InstanceKey>,
  at: Date,
): Promise<S3ConfigCommand> {
  const { request } = update;
  // Built by assignment: V8 copies a `{ ...common, more }` literal the slow way, microseconds
  // on every repeated POST.
  const command: S3ConfigCommand = request.enabled
    ? {
        type: 'UpdateS3Config',
        enabled: true,
        instance: update.instance,
        settings: request.settings,
        actor: update.actor,
        at: at.toISOString(),
      }
    : {
        type: 'UpdateS3Config',
        enabled: false,
        instance: update.instance,
        actor: update.actor,
        at: at.toISOString(),
      };
  if (update.expectedRevision !== undefined) command.expectedRevision = update.expectedRevision;
  if (command.enabled && request.enabled && request.secretKey !== undefined) {
    command.secret = await submitSecret(
      request.secretKey,
      update.instance,
      state,
      nextRevision,
      resolveKey,
    );
  }
  return command;
}

/** The keyed digest always; the 275 µs seal only when the secret differs from the stored one. */
async function submitSecret(
  secretKey: string,
  instance: string,
  state: S3ConfigState,
  revision: number,
  resolveKey: () => Promise<InstanceKey>,
): Promise<SubmittedSecret> {
  const key = await resolveKey();
  const mac = toBase64Url(macOf(key.macKey, Buffer.from(secretKey, 'utf8')));
  const submitted = { keyId: key.id, mac };
  if (!needsSealing(submitted, state)) return submitted;
  const ciphertext = sealSecret(secretKey, { instance, revision, keyId: key.id }, key.publicKey);
  return { ...submitted, ciphertext };
}

/**
 * The key material a secret is sealed to: the enablement's own while enabled, a fresh one when
 * enabling. A fresh key that ends up unused is discarded.
 */
function keyResolver(keyring: InstanceKeyring, instance: string, state: S3ConfigState) {
  let created: InstanceKey | undefined;
  return {
    async resolve(): Promise<InstanceKey> {
      if (state.status === 'enabled') {
        const current = await keyring.find(state.secret.keyId);
        if (current) return current;
      }
      created ??= await keyring.create(instance);
      return created;
    },
    async discardCreated(): Promise<void> {
      // eslint-disable-next-line no-restricted-syntax -- an unused key left behind is removed by the unreferenced-key collector
      if (created) await keyring.discard(created.id).catch(() => {});
    },
  };
}
