import pino from 'pino';
import {
  AccessChangeRejectedError,
  type CreatedAccount,
  type CreatedInstance,
} from '../infra/postgres/access-changes.ts';
import { PostgresAccessStore } from '../infra/postgres/access-store.ts';
import { openDatabase } from '../infra/postgres/database.ts';
import { loadSettings } from '../settings.ts';

export const adminUsage = `  admin create-account <name>            create an account; prints its token once
  admin create-instance <account> <name> create an instance of an account; prints its token once
  admin revoke-token <tokenId>           revoke a token, at once in every running process
`;

export type AdminRequest =
  | { subcommand: 'create-account'; account: string }
  | { subcommand: 'create-instance'; account: string; instance: string }
  | { subcommand: 'revoke-token'; tokenId: string };

/** The request an admin command line asks for, or undefined when it is not one. */
export function parseAdminArgs(args: readonly string[]): AdminRequest | undefined {
  const [subcommand, ...operands] = args;
  const [first, second] = operands;
  if (subcommand === 'create-account' && operands.length === 1 && first) {
    return { subcommand, account: first };
  }
  if (subcommand === 'create-instance' && operands.length === 2 && first && second) {
    return { subcommand, account: first, instance: second };
  }
  if (subcommand === 'revoke-token' && operands.length === 1 && first) {
    return { subcommand, tokenId: first };
  }
  return undefined;
}

/** `stowage admin …`: prints one JSON line; resolves to the exit code. */
export async function adminSubcommand(args: string[]): Promise<number> {
  const request = parseAdminArgs(args);
  if (!request) {
    process.stderr.write(`stowage admin: expected one of\n${adminUsage}`);
    return 2;
  }
  const settings = loadSettings();
  // stdout carries the answer (and the token in it), so diagnostics go to stderr.
  const logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));
  const database = await openDatabase(settings, logger, { shareRunningEmbedded: true });
  try {
    const store = new PostgresAccessStore({
      pool: database.pool,
      connect: database.connect,
      logger,
    });
    process.stdout.write(JSON.stringify(await perform(store, request)) + '\n');
    return 0;
  } catch (error) {
    if (!(error instanceof AccessChangeRejectedError)) throw error;
    process.stderr.write(`stowage admin: ${error.message}\n`);
    return 1;
  } finally {
    await database.close();
  }
}

async function perform(
  store: PostgresAccessStore,
  request: AdminRequest,
): Promise<CreatedAccount | CreatedInstance | { revoked: string }> {
  switch (request.subcommand) {
    case 'create-account':
      return store.createAccount(request.account);
    case 'create-instance':
      return store.createInstance(request.account, request.instance);
    case 'revoke-token':
      await store.revokeToken(request.tokenId);
      return { revoked: request.tokenId };
  }
}
