import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/infra/logger.ts';

/** The service's own logger (redaction and all), its lines kept in `lines` for leak checks. */
export function capturedLog(level: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger(
    level,
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { logger, lines };
}
