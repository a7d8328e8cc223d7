import sodium from 'libsodium-wrappers';

let loaded = false;

/**
 * libsodium's wasm build loads asynchronously. The composition root (the CLI entry, a test's or a
 * bench's set-up) awaits this once; every function below is synchronous after it.
 */
export async function initSealing(): Promise<void> {
  await sodium.ready;
  loaded = true;
}

function libsodium(): typeof sodium {
  if (!loaded) throw new Error('libsodium is not loaded: await initSealing() first');
  return sodium;
}

export interface Keypair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export function generateKeypair(): Keypair {
  const { publicKey, privateKey } = libsodium().crypto_box_keypair();
  return { publicKey, privateKey };
}

/** The public half of an X25519 private key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return libsodium().crypto_scalarmult_base(privateKey);
}

/** Anonymous encryption to `publicKey` (crypto_box_seal): only the private key's holder can open it. */
export function sealTo(publicKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return libsodium().crypto_box_seal(plaintext, publicKey);
}

/** Opens a sealed box; throws when the keypair is not the one it was sealed to or it was altered. */
export function openSealed(keypair: Keypair, ciphertext: Uint8Array): Uint8Array {
  return libsodium().crypto_box_seal_open(ciphertext, keypair.publicKey, keypair.privateKey);
}

export function randomBytes(length: number): Uint8Array {
  return libsodium().randombytes_buf(length);
}

/** HMAC-SHA-512-256: a keyed digest, so equal secrets can be recognised without an unkeyed hash. */
export function macOf(key: Uint8Array, message: Uint8Array): Uint8Array {
  return libsodium().crypto_auth(message, key);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && libsodium().memcmp(a, b);
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function fromBase64Url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}
