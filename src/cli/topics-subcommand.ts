import pino from 'pino';
import { createKafka, kafkaSecurity } from '../infra/kafka.ts';
import { createLogger } from '../infra/logger.ts';
import { loadSettings, SettingsError } from '../settings.ts';
import { ensureUploadTopics } from '../workers/media-upload/topics.ts';

export const topicsUsage = `  topics ensure                          create the worker's Kafka topics as the STOWAGE_TOPIC_*
                                          settings say (what the worker does at start)
`;

/**
 * `stowage topics ensure`: the worker's own topic creation, for deployments that create topics
 * before any worker runs. Prints what it created and which existing configs differ.
 */
export async function topicsSubcommand(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0] !== 'ensure') {
    process.stderr.write(`stowage: topics: expected "ensure"\n${topicsUsage}`);
    return 2;
  }
  const settings = loadSettings();
  if (!settings.KAFKA_BROKERS) {
    throw new SettingsError('invalid setting KAFKA_BROKERS: topics ensure needs Kafka brokers');
  }
  const logger = createLogger(settings.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
  const kafka = createKafka(
    settings.KAFKA_BROKERS,
    'stowage-topics',
    logger,
    kafkaSecurity(settings),
  );
  const ensured = await ensureUploadTopics(kafka, settings, logger);
  process.stdout.write(JSON.stringify(ensured) + '\n');
  return 0;
}
