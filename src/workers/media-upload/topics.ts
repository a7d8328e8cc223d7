import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import type { Logger } from '../../infra/logger.ts';
import type { Settings } from '../../settings.ts';

export interface UploadTopics {
  requested: string;
  completed: string;
  failed: string;
}

/** How every topic of the worker is made: nothing is left to the broker's defaults. */
export interface TopicSettings {
  partitions: number;
  replicationFactor: number;
  retentionMs: number;
  maxMessageBytes: number;
}

/** A topic that exists with a config other than the settings ask for. */
export interface TopicConfigDifference {
  topic: string;
  config: string;
  expected: string;
  actual: string | null;
}

export interface EnsuredTopics {
  created: string[];
  differences: TopicConfigDifference[];
}

export function uploadTopicsOf(settings: Settings): UploadTopics {
  return {
    requested: settings.STOWAGE_TOPIC_UPLOAD_REQUESTED,
    completed: settings.STOWAGE_TOPIC_UPLOAD_COMPLETED,
    failed: settings.STOWAGE_TOPIC_UPLOAD_FAILED,
  };
}

export function topicSettingsOf(settings: Settings): TopicSettings {
  return {
    partitions: settings.STOWAGE_TOPIC_PARTITIONS,
    replicationFactor: settings.STOWAGE_TOPIC_REPLICATION_FACTOR,
    retentionMs: settings.STOWAGE_TOPIC_RETENTION_MS,
    maxMessageBytes: settings.STOWAGE_TOPIC_MAX_MESSAGE_BYTES,
  };
}

/**
 * Creates whichever of the worker's topics are missing (brokers run without automatic topic
 * creation), and compares the configs of those that exist. Existing topics are not altered: their
 * owner may have chosen otherwise on purpose; a difference is reported for the caller to warn.
 */
export async function ensureTopics(
  admin: Admin,
  topics: UploadTopics,
  wanted: TopicSettings,
): Promise<EnsuredTopics> {
  const all = [topics.requested, topics.completed, topics.failed];
  const existing = new Set(await admin.listTopics());
  const missing = all.filter((topic) => !existing.has(topic));
  const configs = configEntries(wanted);
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: wanted.partitions,
        replicationFactor: wanted.replicationFactor,
        configEntries: configs,
      })),
    });
  }
  const present = all.filter((topic) => existing.has(topic));
  const differences = present.length > 0 ? await compareConfigs(admin, present, configs) : [];
  return { created: missing, differences };
}

/** Connects, ensures the topics, logs what it did and what differs, disconnects. */
export async function ensureUploadTopics(
  kafka: Kafka,
  settings: Settings,
  log: Logger,
): Promise<EnsuredTopics> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ensured = await ensureTopics(admin, uploadTopicsOf(settings), topicSettingsOf(settings));
    if (ensured.created.length > 0) log.info({ topics: ensured.created }, 'created topics');
    for (const difference of ensured.differences) {
      log.warn(
        difference,
        `topic ${difference.topic} has ${difference.config}=${difference.actual}, the settings say ${difference.expected}`,
      );
    }
    return ensured;
  } finally {
    await admin.disconnect();
  }
}

function configEntries(wanted: TopicSettings) {
  return [
    { name: 'max.message.bytes', value: String(wanted.maxMessageBytes) },
    { name: 'retention.ms', value: String(wanted.retentionMs) },
  ];
}

async function compareConfigs(
  admin: Admin,
  topics: string[],
  configs: { name: string; value: string }[],
): Promise<TopicConfigDifference[]> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: kafkajs.ConfigResourceTypes.TOPIC,
      name,
      configNames: configs.map((config) => config.name),
    })),
  });
  return resources.flatMap((resource) =>
    configs.flatMap(({ name, value }) => {
      const actual =
        resource.configEntries.find((entry) => entry.configName === name)?.configValue ?? null;
      return actual === value
        ? []
        : [{ topic: resource.resourceName, config: name, expected: value, actual }];
    }),
  );
}
