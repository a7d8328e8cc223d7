import type { Admin } from 'kafkajs';

export interface UploadTopics {
  requested: string;
  completed: string;
  failed: string;
}

// A failed outcome carries the invalid request it answers, which may itself be as large as the
// requested topic allows (1 MiB by default), base64-encoded when it is not text.
const failedTopicMaxMessageBytes = String(4 * 1024 * 1024);

/**
 * Creates whichever of the worker's topics are missing: brokers are run without automatic topic
 * creation. Topics that exist are left as they are.
 */
export async function ensureTopics(
  admin: Admin,
  topics: UploadTopics,
  partitions: number,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = [topics.requested, topics.completed, topics.failed].filter(
    (topic) => !existing.has(topic),
  );
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((topic) => ({
      topic,
      numPartitions: partitions,
      ...(topic === topics.failed
        ? { configEntries: [{ name: 'max.message.bytes', value: failedTopicMaxMessageBytes }] }
        : {}),
    })),
  });
  return missing;
}
