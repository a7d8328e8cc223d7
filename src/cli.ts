import { parseArgs } from 'node:util';
import { adminCommand, adminUsage } from './admin/admin-commands.ts';
import { initSealing } from './infra/sealing.ts';
import { keysCommand, keysUsage } from './keys/keys-command.ts';
import { replayCommand, replayUsage } from './replay/replay-command.ts';
import { serve } from './serve.ts';
import { loadSettings, roleNames, SettingsError, type Role } from './settings.ts';
import { topicsCommand, topicsUsage } from './workers/media-upload/topics-command.ts';

const usage = `usage: stowage <command>

  serve [--roles api,projector,worker]   run the service (default: api and projector, plus the
                                          worker when KAFKA_BROKERS is set)
${keysUsage}${replayUsage}${topicsUsage}${adminUsage}`;

/** Runs one command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    await initSealing();
    switch (command) {
      case 'serve':
        return await serveCommand(rest);
      case 'keys':
        return await keysCommand(rest);
      case 'admin':
        return await adminCommand(rest);
      case 'replay':
        return await replayCommand(rest);
      case 'topics':
        return await topicsCommand(rest);
      case undefined:
      case 'help':
      case '--help':
        process.stdout.write(usage);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`stowage: unknown command ${JSON.stringify(command)}\n${usage}`);
        return 2;
    }
  } catch (error) {
    // Start-up problems are reported as one line; a stack trace helps nobody who set a variable.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`stowage: ${message}\n`);
    return error instanceof SettingsError ? 2 : 1;
  }
}

async function serveCommand(args: string[]): Promise<number> {
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
