import pino from 'pino';

export type Logger = pino.Logger;

const censor = '[redacted]';

// Secrets may sit in a request body, a header or an S3 client's settings, at any depth; redaction
// is the last line of defence, the first is never passing them to a logger.
const secretFields = new Set([
  'secretaccesskey',
  'secretkey',
  'token',
  'authorization',
  'password',
]);

// What the deep walk below does not see: a child logger's bindings, and what serializers make
// of a request.
const secretPaths = ['token', 'secretKey', 'secretAccessKey', 'authorization'];
export const redactedPaths = [
  ...secretPaths,
  ...secretPaths.map((field) => `*.${field}`),
  'req.headers.token',
  'req.headers.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'stowage' },
      redact: { paths: redactedPaths, censor },
      formatters: { log: redactSecrets },
      // An error's own fields (a driver's or an SDK's) are walked too, once serialized.
      serializers: { err: (error: Error) => redactSecrets({ ...pino.stdSerializers.err(error) }) },
    },
    destination,
  );
}

/** How long a line may wait in the service's log buffer. */
export const logFlushMs = 250;

/**
 * The service's stdout, written in blocks: lines gather until 4 KiB or `logFlushMs`, whichever
 * comes first, and go out in one system call. Written one at a time (asynchronously, through
 * libuv's thread pool), the request lines cost about a tenth of the service's CPU on repeated
 * POSTs (bench/README.md). pino writes what is pending, synchronously, when the process exits;
 * only a kill that allows no exit handler (SIGKILL) can lose the last quarter second.
 */
export function bufferedStdout(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: logFlushMs });
}

/**
 * The logger of the one line each request ends with, on the same destination. That line's
 * fields are fixed and carry nothing of the request but its id, method and route pattern (never
 * its URL, headers or body), so it skips the two redactions every other line goes through, a
 * good part of what that line cost a repeated POST (bench/README.md).
 */
export function requestLineLogger(logger: Logger): Logger {
  const destination = (logger as unknown as Record<symbol, pino.DestinationStream>)[
    pino.symbols.streamSym
  ];
  return pino({ level: logger.level, base: { service: 'stowage' } }, destination);
}

const maxDepth = 16;

/**
 * A copy of the log object with every field named like a secret replaced, at any depth (pino's
 * own redaction needs each path spelled out). Plain objects and arrays are walked; anything
 * else (an Error, a Buffer) is left to its serializer.
 */
export function redactSecrets<T extends Record<string, unknown>>(object: T): T {
  return redactValue(object, 0) as T;
}

function redactValue(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) {
    return depth >= maxDepth ? censor : value.map((item) => redactValue(item, depth + 1));
  }
  if (!isPlainObject(value)) return value;
  if (depth >= maxDepth) return censor;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    copy[key] = secretFields.has(key.toLowerCase()) ? censor : redactValue(field, depth + 1);
  }
  // A Redis client's error carries the failed command with its arguments: AUTH's and HELLO's
  // are the password.
  if (isPlainObject(copy.command) && 'args' in copy.command) {
    copy.command = { ...copy.command, args: censor };
  }
  return copy;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
