import { parseArgs } from 'node:util';
import { serve } from '../serve.ts';
import { loadSettings, roleNames, SettingsError, type Role } from '../settings.ts';
import { adminSubcommand, adminUsage } from './admin-subcommand.ts';
import { keysSubcommand, keysUsage } from './keys-subcommand.ts';
import { replaySubcommand, replayUsage } from './replay-subcommand.ts';
import { topicsSubcommand, topicsUsage } from './topics-subcommand.ts';
import { initSealing } from '../infra/sealing.ts';

const usage = `usage: stowage <command>

  serve [--roles api,projector,worker]   run the service (default: api and projector, plus the
                                          worker when KAFKA_BROKERS is set)
${keysUsage}${replayUsage}${topicsUsage}${adminUsage}`;

/** Runs one command line (a subcommand and its arguments); resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv;
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
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(usage);
        return subcommand === undefined ? 2 : 0;
      default:
        process.stderr.write(`stowage: unknown command ${JSON.stringify(subcommand)}\n${usage}`);
        return 2;
    }
  } catch (error) {
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
