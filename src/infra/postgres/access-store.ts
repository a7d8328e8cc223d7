import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { isInstanceName } from '../../domain/instance-name.ts';
import type { AccessDirectory, Principal } from '../../http/auth.ts';
import {
  legacyTokenIdLength,
  mintToken,
  parseToken,
  secretMatches,
  type MintedToken,
  type ParsedToken,
} from '../access-token.ts';
import { ExpiringCache } from '../expiring-cache.ts';
import { ChannelListener } from './channel-listener.ts';
import type { Logger } from '../logger.ts';
import { inTransaction, type Pool, type PoolClient } from './pool.ts';
import { StowageError } from '../../shared/errors.ts';

export const tokensChannel = 'stowage_tokens';

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

/** A create or revoke that cannot be done as asked; its message is one line for the operator. */
export class AccessChangeRejectedError extends StowageError {
  constructor(message: string) {
    super('access-change-rejected', message);
  }
}

export interface Account {
  id: string;
  name: string;
}

export interface Instance {
  name: string;
  accountId: string;
}

export interface CreatedAccount {
  account: Account;
  accountToken: string;
  tokenId: string;
}

export interface CreatedInstance {
  instance: Instance;
  instanceToken: string;
  tokenId: string;
}

export interface AccessStoreOptions {
  pool: Pool;
  /** A dedicated connection for LISTEN, which a pooled one cannot hold. */
  connect: () => Promise<pg.Client>;
  logger: Logger;
}

interface TokenRow {
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
 * Accounts, instances and their access tokens in Postgres. Verified tokens are cached for a few
 * seconds, but only while this store listens for revocations: without the listener a revoked
 * token could be honoured until its entry expired.
 */
export class PostgresAccessStore implements AccessDirectory {
  private readonly verified = new ExpiringCache<string, VerifiedToken>(
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

  constructor(private readonly options: AccessStoreOptions) {
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

  async createAccount(name: string): Promise<CreatedAccount> {
    requireName('account', name);
    const account: Account = { id: randomUUID(), name };
    const minted = mintToken();
    try {
      await inTransaction(this.options.pool, async (client) => {
        await client.query('INSERT INTO accounts (id, name) VALUES ($1, $2)', [account.id, name]);
        await insertToken(client, minted, account.id, null);
      });
    } catch (error) {
      if (isUniqueViolation(error, 'accounts_name_key')) {
        throw new AccessChangeRejectedError(`account "${name}" already exists`);
      }
      throw error;
    }
    return { account, accountToken: minted.token, tokenId: minted.tokenId };
  }

  async createInstance(accountName: string, instanceName: string): Promise<CreatedInstance> {
    requireName('instance', instanceName);
    const minted = mintToken();
    try {
      const instance = await inTransaction(this.options.pool, async (client) => {
        const { rows } = await client.query<{ id: string }>(
          'SELECT id FROM accounts WHERE name = $1',
          [accountName],
        );
        const accountId = rows[0]?.id;
        if (!accountId) throw new AccessChangeRejectedError(`no account named "${accountName}"`);
        await client.query('INSERT INTO instances (name, account_id) VALUES ($1, $2)', [
          instanceName,
          accountId,
        ]);
        await insertToken(client, minted, accountId, instanceName);
        return { name: instanceName, accountId };
      });
      return { instance, instanceToken: minted.token, tokenId: minted.tokenId };
    } catch (error) {
      if (isUniqueViolation(error, 'instances_pkey')) {
        throw new AccessChangeRejectedError(`instance "${instanceName}" already exists`);
      }
      throw error;
    }
  }

  /** Revoking twice is allowed; listening processes are told on commit, in the same statement. */
  async revokeToken(tokenId: string): Promise<void> {
    const { rowCount } = await this.options.pool.query(
      `WITH revoked AS (
         UPDATE access_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id
       )
       SELECT pg_notify('${tokensChannel}', id) FROM revoked`,
      [tokenId],
    );
    if (!rowCount) throw new AccessChangeRejectedError(`no token with id "${tokenId}"`);
    this.forget(tokenId);
  }

  async verifyToken(token: string): Promise<Principal | null> {
    const parsed = parseToken(token);
    if (!parsed || this.surelyUnknown(parsed)) return null;
    // A cached entry still has to match the presented secret: the id alone proves nothing.
    const cached = this.verified.get(parsed.tokenId);
    if (cached) return secretMatches(parsed.secret, cached.secretHash) ? cached.principal : null;

    const invalidationsBefore = this.invalidations;
    const { rows } = await this.options.pool.query<TokenRow>(
      `SELECT kind, account_id, instance_name, hash FROM access_tokens
       WHERE id = $1 AND revoked_at IS NULL`,
      [parsed.tokenId],
    );
    const row = rows[0];
    if (!row) {
      this.unknownIds.set(parsed.tokenId, true);
      return null;
    }
    const principal = principalOf(parsed.tokenId, row);
    if (secretMatches(parsed.secret, row.hash)) this.knownGood.set(parsed.tokenId, row.hash);
    // Cached whatever secret came with it, so that wrong guesses at a real id cost no query either.
    if (this.revocations.listening && this.invalidations === invalidationsBefore) {
      this.verified.set(parsed.tokenId, { principal, secretHash: row.hash });
    }
    return secretMatches(parsed.secret, row.hash) ? principal : null;
  }

  /** A token this process found valid in the last minutes: known good without a query. */
  isVerified(token: string): boolean {
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
    const { rowCount } = await this.options.pool.query(
      'SELECT 1 FROM instances WHERE name = $1 AND account_id = $2',
      [instance, accountId],
    );
    // Instances are never deleted or moved between accounts, so only "exists" is remembered
    // (an instance created a moment ago must not stay "not found").
    if (rowCount === 1) this.knownInstances.set(key, true);
    return rowCount === 1;
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
    this.knownGood.delete(tokenId);
  }

  private invalidateAll(): void {
    this.invalidations += 1;
    this.verified.clear();
  }
}

function requireName(what: 'account' | 'instance', name: string): void {
  if (!isInstanceName(name)) {
    throw new AccessChangeRejectedError(
      `invalid ${what} name ${JSON.stringify(name)}: use 1 to 100 letters, digits, dots, underscores and hyphens, starting with a letter or digit`,
    );
  }
}

async function insertToken(
  client: PoolClient,
  minted: MintedToken,
  accountId: string,
  instanceName: string | null,
): Promise<void> {
  await client.query(
    `INSERT INTO access_tokens (id, kind, account_id, instance_name, hash)
     VALUES ($1, $2, $3, $4, $5)`,
    [
      minted.tokenId,
      instanceName ? 'instance' : 'account',
      accountId,
      instanceName,
      minted.secretHash,
    ],
  );
}

function principalOf(tokenId: string, row: TokenRow): Principal {
  if (row.kind === 'account') return { kind: 'account', tokenId, accountId: row.account_id };
  // The table's CHECK rules this out; an instance token must never pass for an account token.
  if (!row.instance_name) throw new Error(`instance token ${tokenId} names no instance`);
  return { kind: 'instance', tokenId, accountId: row.account_id, instance: row.instance_name };
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError.code === '23505' && pgError.constraint === constraint;
}
