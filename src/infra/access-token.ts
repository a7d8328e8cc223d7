import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Access tokens look like `stw_<tokenId>_<secret>`: the id (9 random bytes) finds the row, the
 * secret (32 random bytes) proves possession. Both are base64url, whose alphabet includes `_`,
 * so the parts are told apart by their fixed lengths, not by splitting.
 */
const tokenFormat = /^stw_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/;

export interface MintedToken {
  tokenId: string;
  /** Shown once to whoever asked for it; never stored. */
  token: string;
  secretHash: Buffer;
}

export interface ParsedToken {
  tokenId: string;
  secret: string;
}

export function mintToken(): MintedToken {
  const tokenId = randomBytes(9).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  return { tokenId, token: `stw_${tokenId}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseToken(token: string): ParsedToken | undefined {
  const match = tokenFormat.exec(token);
  return match ? { tokenId: match[1]!, secret: match[2]! } : undefined;
}

/**
 * The secret has 256 bits of entropy, so a plain SHA-256 cannot be reversed by guessing; a slow
 * or keyed hash would only add cost to every request. The text is hashed rather than the decoded
 * bytes so that only the one canonical spelling of a secret is accepted.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const presented = hashSecret(secret);
  return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
}
