import { randomUUID } from 'node:crypto';
import { isInstanceName } from '../../domain/instance-name.ts';
import { StowageError } from '../../shared/errors.ts';
import { mintToken, type MintedToken } from '../access-token.ts';
import { inTransaction, type Pool, type PoolClient } from './pool.ts';

// The operator's changes to who may call: accounts, their instances, and revoking tokens. Checking
// tokens on each request, and caching them, is the access store's (access-store.ts).

export const tokensChannel = 'stowage_tokens';

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

export async function createAccount(pool: Pool, name: string): Promise<CreatedAccount> {
  requireName('account', name);
  const account: Account = { id: randomUUID(), name };
  const minted = mintToken();
  try {
    await inTransaction(pool, async (client) => {
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

export async function createInstance(
  pool: Pool,
  accountName: string,
  instanceName: string,
): Promise<CreatedInstance> {
  requireName('instance', instanceName);
  const minted = mintToken();
  try {
    const instance = await inTransaction(pool, async (client) => {
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
export async function revokeToken(pool: Pool, tokenId: string): Promise<void> {
  const { rowCount } = await pool.query(
    `WITH revoked AS (
       UPDATE access_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id
     )
     SELECT pg_notify('${tokensChannel}', id) FROM revoked`,
    [tokenId],
  );
  if (!rowCount) throw new AccessChangeRejectedError(`no token with id "${tokenId}"`);
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

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pgError = error as { code?: string; constraint?: string };
  return pgError.code === '23505' && pgError.constraint === constraint;
}
