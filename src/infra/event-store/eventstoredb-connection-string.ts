import { createRequire } from 'node:module';
import { isReadable } from '../../shared/readable-file.ts';

// Settings are checked in every process, most of which never use EventStoreDB: the client's
// parser (which loads much of the client) is required only when there is a URL to check.
const require = createRequire(import.meta.url);
type ConnectionStringParser =
  typeof import('@eventstore/db-client/dist/Client/parseConnectionString.js').parseConnectionString;

/**
 * EVENTSTORE_URL as @eventstore/db-client 6 takes it. The client parses only `esdb://` and
 * `esdb+discover://`; KurrentDB's documentation writes the same URLs as `kurrentdb://`, so those
 * are translated rather than left to fail when the store is opened.
 */
export function clientConnectionString(url: string): string {
  return url
    .trim()
    .replace(/^kurrentdb(\+discover)?:\/\//, (_, discover = '') => `esdb${discover as string}://`);
}

// The client ignores an option it does not know with a console warning that prints the whole
// URL, password included; such URLs are refused here instead. Same spelling rule as the client.
const clientOptions = [
  'userCertFile',
  'userKeyFile',
  'maxDiscoverAttempts',
  'connectionName',
  'defaultDeadline',
  'discoveryInterval',
  'gossipTimeout',
  'nodePreference',
  'tls',
  'tlsVerifyCert',
  'tlsCAFile',
  'throwOnAppendFailure',
  'keepAliveInterval',
  'keepAliveTimeout',
].map(flatCase);

function flatCase(key: string): string {
  return key.trim().toLowerCase().replace(/[_-]/g, '');
}

/**
 * Why the client would refuse `url` (without quoting it: it may hold a password), or undefined
 * when the client can be constructed from it.
 */
export function connectionStringProblem(url: string): string | undefined {
  const connectionString = clientConnectionString(url);
  const query = connectionString.indexOf('?');
  if (query >= 0) {
    for (const pair of connectionString.slice(query + 1).split('&')) {
      const key = pair.split('=')[0] ?? '';
      if (!clientOptions.includes(flatCase(key))) return `unknown option "${key}"`;
    }
  }
  let options: Partial<Record<(typeof fileOptions)[number], string>>;
  const { parseConnectionString } =
    require('@eventstore/db-client/dist/Client/parseConnectionString.js') as {
      parseConnectionString: ConnectionStringParser;
    };
  try {
    options = parseConnectionString(connectionString);
  } catch (error) {
    const { expected, location } = error as { expected?: string; location?: [number, number] };
    if (!expected || !location) throw error;
    return `expected ${expected} at character ${location[0]}`;
  }
  // The client reads these files when it is constructed.
  for (const option of fileOptions) {
    const file = options[option];
    if (file !== undefined && !isReadable(file)) return `${option} ${file} cannot be read`;
  }
  return undefined;
}

const fileOptions = ['tlsCAFile', 'userCertFile', 'userKeyFile'] as const;
