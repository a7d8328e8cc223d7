import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Settings } from '../settings.ts';
import type { Logger } from './logger.ts';
import './negative-timeout-warning.ts';

/** How to reach secured brokers: nothing for a plaintext listener. */
export interface KafkaSecurity {
  sasl?: SASLOptions;
  /** TLS; `ca` (PEM) replaces the system's certificate authorities. */
  tls?: { ca?: string };
}

type KafkaSecuritySettings = Pick<
  Settings,
  | 'KAFKA_SASL_MECHANISM'
  | 'KAFKA_SASL_USERNAME'
  | 'KAFKA_SASL_PASSWORD'
  | 'KAFKA_TLS'
  | 'KAFKA_TLS_CA_FILE'
>;

/** The brokers' security as the settings give it (checked whole by loadSettings). */
export function kafkaSecurity(settings: KafkaSecuritySettings): KafkaSecurity {
  const security: KafkaSecurity = {};
  const mechanism = settings.KAFKA_SASL_MECHANISM;
  if (mechanism) {
    security.sasl = {
      mechanism,
      username: settings.KAFKA_SASL_USERNAME ?? '',
      password: settings.KAFKA_SASL_PASSWORD ?? '',
    };
  }
  if (settings.KAFKA_TLS) {
    security.tls = settings.KAFKA_TLS_CA_FILE
      ? { ca: readFileSync(settings.KAFKA_TLS_CA_FILE, 'utf8') }
      : {};
  }
  return security;
}

/** A kafkajs client whose own log lines go through the service's logger. */
export function createKafka(
  brokers: string[],
  clientId: string,
  logger: Logger,
  security: KafkaSecurity = {},
): Kafka {
  const log = logger.child({ component: 'kafka' });
  if (security.sasl?.mechanism === 'plain' && !security.tls) {
    log.warn('KAFKA_SASL_MECHANISM=plain without KAFKA_TLS sends the password in clear text');
  }
  return new Kafka({
    clientId,
    brokers,
    ...(security.tls ? { ssl: security.tls.ca ? { ca: [security.tls.ca] } : true } : {}),
    ...(security.sasl ? { sasl: security.sasl } : {}),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.error(rest, message);
        else if (level === logLevel.WARN) log.warn(rest, message);
        else log.debug(rest, message);
      },
  });
}
