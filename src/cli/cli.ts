import { parseArgs } from 'node:util';
import { serve } from '../serve.ts';
import { loadSettings, roleNames, SettingsError, type Role } from '../settings.ts';
import { adminSubcommand, adminUsage } from './admin-subcommand.ts';
import { keysSubcommand, keysUsage } from './keys-subcommand.ts';
import { replaySubcommand, replayUsage } from './replay-subcommand.ts';
import { topicsSubcommand, topicsUsage } from './topics-subcommand.ts';
import { initSealing } from '../infra/sealing.ts';

const serveUsage = `  serve [--roles api,projector,worker]   run the service (default: api and projector, plus the
                                          worker when KAFKA_BROKERS is set)
`;
const subcommandUsages: Record<string, string> = {
  serve: serveUsage,
  keys: keysUsage,
  replay: replayUsage,
  topics: topicsUsage,
  admin: adminUsage,
};
const usage = `usage: stowage <command>\n\n${Object.values(subcommandUsages).join('')}`;

// What node:util's parseArgs throws for a command line it does not accept.
const usageErrorCodes = new Set([
  'ERR_PARSE_ARGS_UNKNOWN_OPTION',
  'ERR_PARSE_ARGS_INVALID_OPTION_VALUE',
  'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL',
]);

/** Runs one command line (a subcommand and its arguments); resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv;
  const subcommandUsage = subcommand === undefined ? undefined : subcommandUsages[subcommand];
  if (subcommandUsage && rest.some((arg) => arg === '--help' || arg === '-h')) {
    process.stdout.write(`usage: stowage ${subcommand} …\n\n${subcommandUsage}`);
    return 0;
  }
  try {
    await initSealing();
    switch (subcommand) {
      case 'serve':
        return await serveSubcommand(rest);
      case 'keys':
        return await keysSubcommand(rest);
      case 'admin':
        return await adminSubcommand(rest);
      case 'replay':
        return await replaySubcommand(rest);
      case 'topics':
        return await topicsSubcommand(rest);
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(usage);
        return 0;
      case undefined:
        process.stderr.write(usage);
        return 2;
      default:
        process.stderr.write(`stowage: unknown command ${JSON.stringify(subcommand)}\n${usage}`);
        return 2;
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && usageErrorCodes.has(code)) {
      process.stderr.write(`stowage: ${(error as Error).message}\n${subcommandUsage ?? usage}`);
      return 2;
    }
    // Start-up problems are reported as one line; a stack trace helps nobody who set a variable.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`stowage: ${message}\n`);
    return error instanceof SettingsError ? 2 : 1;
  }
}

async function serveSubcommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { roles: { type: 'string' } } });
  const settings = loadSettings(
    values.roles === undefined ? process.env : { ...process.env, STOWAGE_ROLES: values.roles },
  );
  const roles: Role[] =
    settings.STOWAGE_ROLES ??
    roleNames.filter((role) => role !== 'worker' || settings.KAFKA_BROKERS !== undefined);
  await serve(settings, new Set(roles));
  return 0;
}
