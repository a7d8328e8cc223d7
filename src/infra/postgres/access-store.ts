import type pg from 'pg';
import type { AccessDirectory, Principal } from '../../http/auth.ts';
import {
  legacyTokenIdLength,
  parseToken,
  secretMatches,
  tokenDigest,
  type ParsedToken,
} from '../access-token.ts';
import { ExpiringCache } from '../../shared/expiring-cache.ts';
import {
  createAccount,
  createInstance,
  revokeToken,
  tokensChannel,
  type CreatedAccount,
  type CreatedInstance,
} from './access-changes.ts';
import { BatchedLookup } from './batched-lookup.ts';
import { ChannelListener } from './channel-listener.ts';
import type { Logger } from '../logger.ts';
import type { Pool } from './pool.ts';

// Long enough to keep the database off the path of a client's burst of requests; revocation does
// not wait for it, since every listening process drops a revoked token at once.
const verifiedTtlMs = 5_000;
const verifiedLimit = 10_000;
// Ids are random: one that was not there will not appear, so a miss can be remembered long.
const unknownTtlMs = 10 * 60_000;
const unknownLimit = 100_000;
// Tokens seen valid, remembered only to let their holders past an address that others' failures
// locked: such a request is still authenticated as usual, so a revoked one merely costs a query.
const knownGoodTtlMs = 10 * 60_000;

export interface AccessStoreOptions {
  pool: Pool;
  /** A dedicated connection for LISTEN, which a pooled one cannot hold. */
  connect: () => Promise<pg.Client>;
  logger: Logger;
}

interface TokenRow {
  id: string;
  kind: 'account' | 'instance';
  account_id: string;
  instance_name: string | null;
  hash: Buffer;
}

interface VerifiedToken {
  principal: Principal;
  secretHash: Buffer;
}

/**
 * Who may call, checked against Postgres on each request. Verified tokens are cached for a few
 * seconds, but only while this store listens for revocations: without the listener a revoked
 * token could be honoured until its entry expired. The operator's changes (access-changes.ts) go
 * through here too, so that a revocation also drops this process's cached token at once.
 */
export class PostgresAccessStore implements AccessDirectory {
  private readonly verified = new ExpiringCache<string, VerifiedToken>(
    verifiedTtlMs,
    verifiedLimit,
  );
  // The same tokens by a digest of the whole token, so that one presented again is known by a
  // single hash, unparsed. Emptied by any revocation: revocations are rare, and `verified` refills
  // it without a query.
  private readonly verifiedTokens = new ExpiringCache<string, Principal>(
    verifiedTtlMs,
    verifiedLimit,
  );
  private readonly unknownIds = new ExpiringCache<string, true>(unknownTtlMs, unknownLimit);
  private readonly knownGood = new ExpiringCache<string, Buffer>(knownGoodTtlMs, verifiedLimit);
  /** Ids of the tokens issued before tokens had a check, once listening; no new ones appear. */
  private legacyIds: ReadonlySet<string> | undefined;
  private readonly knownInstances = new ExpiringCache<string, true>(60_000, 100_000);
  private readonly revocations: ChannelListener;
  // Counts cache invalidations, so a lookup that raced one does not cache what it read before it.
  private invalidations = 0;
  // Tokens and instances met for the first time, looked up many per statement.
  private readonly tokenRows: BatchedLookup<TokenRow>;
  private readonly instanceRows: BatchedLookup<{ name: string; account_id: string }>;

  constructor(private readonly options: AccessStoreOptions) {
    this.tokenRows = new BatchedLookup(options.pool, {
      name: 'stowage-find-tokens',
      text: `SELECT id, kind, account_id, instance_name, hash FROM access_tokens
             WHERE id = ANY($1::text[]) AND revoked_at IS NULL`,
      keyOf: (row) => row.id,
    });
    this.instanceRows = new BatchedLookup(options.pool, {
      name: 'stowage-find-instances',
      text: 'SELECT name, account_id FROM instances WHERE name = ANY($1::text[])',
      keyOf: (row) => row.name,
    });
    this.revocations = new ChannelListener({
      connect: options.connect,
      channel: tokensChannel,
      what: 'token revocation',
      logger: options.logger,
      onNotification: (tokenId) => this.forget(tokenId),
      // Revocations sent while the connection was down are lost: nothing cached before can be
      // trusted, and nothing is cached until the store listens again.
      onLost: () => this.invalidateAll(),
    });
  }

  createAccount(name: string): Promise<CreatedAccount> {
    return createAccount(this.options.pool, name);
  }

  createInstance(accountName: string, instanceName: string): Promise<CreatedInstance> {
    return createInstance(this.options.pool, accountName, instanceName);
  }

  async revokeToken(tokenId: string): Promise<void> {
    await revokeToken(this.options.pool, tokenId);
    this.forget(tokenId);
  }

  async verifyToken(token: string, digest = tokenDigest(token)): Promise<Principal | null> {
    const known = this.verifiedTokens.get(digest);
    if (known) return known;
    const parsed = parseToken(token);
    if (!parsed || this.surelyUnknown(parsed)) return null;
    // A cached entry still has to match the presented secret: the id alone proves nothing.
    const cached = this.verified.get(parsed.tokenId);
    if (cached) {
      if (!secretMatches(parsed.secret, cached.secretHash)) return null;
      this.verifiedTokens.set(digest, cached.principal);
      return cached.principal;
    }

    const invalidationsBefore = this.invalidations;
    const row = await this.tokenRows.find(parsed.tokenId);
    if (!row) {
      this.unknownIds.set(parsed.tokenId, true);
      return null;
    }
    const principal = principalOf(parsed.tokenId, row);
    const valid = secretMatches(parsed.secret, row.hash);
    if (valid) this.knownGood.set(parsed.tokenId, row.hash);
    // Cached whatever secret came with it, so that wrong guesses at a real id cost no query either.
    if (this.revocations.listening && this.invalidations === invalidationsBefore) {
      this.verified.set(parsed.tokenId, { principal, secretHash: row.hash });
      if (valid) this.verifiedTokens.set(digest, principal);
    }
    return valid ? principal : null;
  }

  /** A token this process found valid in the last minutes: known good without a query. */
  isVerified(token: string, digest = tokenDigest(token)): boolean {
    if (this.verifiedTokens.get(digest)) return true;
    const parsed = parseToken(token);
    if (!parsed) return false;
    const secretHash = this.knownGood.get(parsed.tokenId);
    return secretHash !== undefined && secretMatches(parsed.secret, secretHash);
  }

  /** A token known not to exist without asking the database: a miss seen before, or made up. */
  private surelyUnknown(parsed: ParsedToken): boolean {
    if (parsed.legacy && this.legacyIds && !this.legacyIds.has(parsed.tokenId)) return true;
    return this.unknownIds.get(parsed.tokenId) === true;
  }

  async instanceExists(accountId: string, instance: string): Promise<boolean> {
    const key = `${accountId}/${instance}`;
    if (this.knownInstances.get(key)) return true;
    const exists = (await this.instanceRows.find(instance))?.account_id === accountId;
    // Instances are never deleted or moved between accounts, so only "exists" is remembered
    // (an instance created a moment ago must not stay "not found").
    if (exists) this.knownInstances.set(key, true);
    return exists;
  }

  /**
   * Starts honouring revocations made by other processes; caching begins once this resolves.
   * Also learns the ids of tokens issued without a check, so made-up ones of that shape are
   * refused without a query.
   */
  async startListening(): Promise<void> {
    await this.revocations.start();
    const { rows } = await this.options.pool.query<{ id: string }>(
      'SELECT id FROM access_tokens WHERE length(id) = $1 AND revoked_at IS NULL',
      [legacyTokenIdLength],
    );
    this.legacyIds = new Set(rows.map((row) => row.id));
  }

  async close(): Promise<void> {
    await this.revocations.close();
    this.invalidateAll();
  }

  private forget(tokenId: string): void {
    this.invalidations += 1;
    this.verified.delete(tokenId);
    this.verifiedTokens.clear();
    this.knownGood.delete(tokenId);
  }

  private invalidateAll(): void {
    this.invalidations += 1;
    this.verified.clear();
    this.verifiedTokens.clear();
  }
}

function principalOf(tokenId: string, row: TokenRow): Principal {
  if (row.kind === 'account') return { kind: 'account', tokenId, accountId: row.account_id };
  // The table's CHECK rules this out; an instance token must never pass for an account token.
  if (!row.instance_name) throw new Error(`instance token ${tokenId} names no instance`);
  return { kind: 'instance', tokenId, accountId: row.account_id, instance: row.instance_name };
}
