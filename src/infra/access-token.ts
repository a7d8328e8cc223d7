import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Access tokens look like `stw_<tokenId>_<secret>_<check>`: the id (12 random bytes) finds the
 * row, the secret (32 random bytes) proves possession, and the check (the start of a SHA-256 of
 * the rest) lets a made-up token be told from a real one without asking the database. All parts
 * are base64url, whose alphabet includes `_`, so they are told apart by their fixed lengths.
 *
 * Tokens issued before the check existed (`stw_<9-byte id>_<secret>`) keep working: their ids
 * are a closed set, which the access store knows (see `legacyTokenIdLength`).
 */
const tokenFormat = /^stw_([A-Za-z0-9_-]{16})_([A-Za-z0-9_-]{43})_([A-Za-z0-9_-]{6})$/;
const legacyTokenFormat = /^stw_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/;

/** The length of the ids of tokens issued without a check; no new ones are ever issued. */
export const legacyTokenIdLength = 12;

export interface MintedToken {
  tokenId: string;
  /** Shown once to whoever asked for it; never stored. */
  token: string;
  secretHash: Buffer;
}

export interface ParsedToken {
  tokenId: string;
  secret: string;
  /** Issued without a check: only the database (or the store's list of such ids) can tell. */
  legacy: boolean;
}

export function mintToken(): MintedToken {
  const tokenId = randomBytes(12).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  return {
    tokenId,
    token: formatToken(tokenId, secret),
    secretHash: hashSecret(secret),
  };
}

/** The token its holder presents: id, secret and the check of both. */
export function formatToken(tokenId: string, secret: string): string {
  return `stw_${tokenId}_${secret}_${checkOf(tokenId, secret)}`;
}

/** The token's parts, or undefined for anything that is not a well-formed token. */
export function parseToken(token: string): ParsedToken | undefined {
  const legacy = legacyTokenFormat.exec(token);
  if (legacy) return { tokenId: legacy[1]!, secret: legacy[2]!, legacy: true };
  const match = tokenFormat.exec(token);
  if (!match || checkOf(match[1]!, match[2]!) !== match[3]) return undefined;
  return { tokenId: match[1]!, secret: match[2]!, legacy: false };
}

// Not a secret and not a MAC: it stops guessed and random tokens, not someone who computes it
// (they still need a real id and secret, and each miss they cause is cached).
function checkOf(tokenId: string, secret: string): string {
  return createHash('sha256').update(`stw_${tokenId}_${secret}`).digest('base64url').slice(0, 6);
}

/**
 * The secret has 256 bits of entropy, so a plain SHA-256 cannot be reversed by guessing; a slow
 * or keyed hash would only add cost to every request. The text is hashed rather than the decoded
 * bytes so that only the one canonical spelling of a secret is accepted.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Names a whole token without revealing it: a key for what is remembered about it. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const presented = hashSecret(secret);
  return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
}
