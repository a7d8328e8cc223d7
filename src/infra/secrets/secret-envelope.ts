import { fromBase64Url, openSealed, sealTo, toBase64Url, type Keypair } from '../sealing.ts';
import { StowageError } from '../../shared/errors.ts';

/**
 * Where a sealed secret belongs. Sealed boxes do not authenticate who sealed them, so the context
 * goes inside the sealed plaintext and is checked on opening: a ciphertext copied into another
 * instance's event, or replayed at another revision, does not open there.
 */
export interface SecretContext {
  instance: string;
  revision: number;
  keyId: string;
}

interface Envelope extends SecretContext {
  v: 1;
  secretKey: string;
}

export class SecretContextMismatchError extends StowageError {
  constructor() {
    super('secret-context-mismatch', 'sealed secret belongs to another instance, revision or key');
  }
}

export function sealSecret(
  secretKey: string,
  context: SecretContext,
  instancePublicKey: Uint8Array,
): string {
  const envelope: Envelope = { v: 1, ...context, secretKey };
  return toBase64Url(sealTo(instancePublicKey, Buffer.from(JSON.stringify(envelope))));
}

export function openSecret(
  ciphertext: string,
  context: SecretContext,
  instanceKeypair: Keypair,
): string {
  const plaintext = openSealed(instanceKeypair, fromBase64Url(ciphertext));
  const envelope = JSON.parse(Buffer.from(plaintext).toString('utf8')) as Envelope;
  if (
    envelope.v !== 1 ||
    envelope.instance !== context.instance ||
    envelope.revision !== context.revision ||
    envelope.keyId !== context.keyId
  ) {
    throw new SecretContextMismatchError();
  }
  return envelope.secretKey;
}
