import pino from 'pino';

export type Logger = pino.Logger;

// Secrets may sit in a request body or a header; redaction is the last line of defence, the first
// is never passing them to a logger.
export const redactedPaths = [
  'req.headers.token',
  'req.headers.authorization',
  'secretKey',
  '*.secretKey',
  'body.secretKey',
  'token',
  '*.token',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { service: 'stowage' }, redact: { paths: redactedPaths, censor: '[redacted]' } },
    destination,
  );
}
