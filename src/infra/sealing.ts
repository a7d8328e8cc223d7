import sodium from 'libsodium-wrappers';

// libsodium's asm.js/wasm build must finish loading before any call.
await sodium.ready;

export interface Keypair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function generateKeypair(): Keypair {
  const { publicKey, privateKey } = sodium.crypto_box_keypair();
  return { publicKey, secretKey: privateKey };
}

/** The public half of an X25519 secret key. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return sodium.crypto_scalarmult_base(secretKey);
}

/** Anonymous encryption to `publicKey` (crypto_box_seal): only the secret key's holder can open it. */
export function sealTo(publicKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return sodium.crypto_box_seal(plaintext, publicKey);
}

/** Opens a sealed box; throws when the keypair is not the one it was sealed to or it was altered. */
export function openSealed(keypair: Keypair, ciphertext: Uint8Array): Uint8Array {
  return sodium.crypto_box_seal_open(ciphertext, keypair.publicKey, keypair.secretKey);
}

export function randomBytes(length: number): Uint8Array {
  return sodium.randombytes_buf(length);
}

/** HMAC-SHA-512-256: a keyed digest, so equal secrets can be recognised without an unkeyed hash. */
export function macOf(key: Uint8Array, message: Uint8Array): Uint8Array {
  return sodium.crypto_auth(message, key);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sodium.memcmp(a, b);
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function fromBase64Url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}
