import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { kafkaBrokers, kafkaSaslTlsSettings } from '../support/services.ts';
import { deleteTopics, uniqueWorkerNames, workerEnv } from '../support/kafka.ts';

const run = promisify(execFile);
const stowage = new URL('../../bin/stowage.js', import.meta.url).pathname;
const names = uniqueWorkerNames();
let kafka: Kafka;
let admin: Admin;

// What compose's kafka-setup runs: the worker's own topic creation, from the same settings.
async function topicsEnsure(env: Record<string, string>) {
  const { stdout, stderr } = await run(process.execPath, [stowage, 'topics', 'ensure'], {
    env: { ...process.env, ...workerEnv(names), ...env },
  });
  return { result: JSON.parse(stdout) as Record<string, unknown[]>, stderr };
}

async function configOf(topic: string): Promise<Record<string, string>> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }],
  });
  return Object.fromEntries(
    resources[0]!.configEntries.map((entry) => [entry.configName, entry.configValue]),
  );
}

before(async () => {
  kafka = createKafka(kafkaBrokers(), 'stowage-test', createLogger('error'));
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin?.disconnect();
  await deleteTopics(kafka, names);
});

test('stowage topics ensure creates every topic with the settings, not broker defaults', async () => {
  const { result } = await topicsEnsure({
    STOWAGE_TOPIC_PARTITIONS: '3',
    STOWAGE_TOPIC_RETENTION_MS: '3600000',
    STOWAGE_TOPIC_MAX_MESSAGE_BYTES: '2097152',
  });
  const topics = [names.requested, names.completed, names.failed];
  assert.deepEqual(result, { created: topics, differences: [] });
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
  for (const topic of metadata) {
    assert.equal(topic.partitions.length, 3, topic.name);
    assert.equal(topic.partitions[0]!.replicas.length, 1, topic.name);
    const config = await configOf(topic.name);
    assert.equal(config['max.message.bytes'], '2097152', topic.name);
    assert.equal(config['retention.ms'], '3600000', topic.name);
  }
});

test('an existing topic is kept, and a differing max.message.bytes is reported and warned', async () => {
  const { result, stderr } = await topicsEnsure({
    STOWAGE_TOPIC_RETENTION_MS: '3600000',
    STOWAGE_TOPIC_MAX_MESSAGE_BYTES: '1048576',
  });
  assert.deepEqual(result.created, []);
  assert.deepEqual(
    result.differences,
    [names.requested, names.completed, names.failed].map((topic) => ({
      topic,
      config: 'max.message.bytes',
      expected: '1048576',
      actual: '2097152',
    })),
  );
  assert.match(stderr, /"level":40.*has max\.message\.bytes=2097152, the settings say 1048576/);
  assert.equal((await configOf(names.requested))['max.message.bytes'], '2097152');
});

test('topics ensure without KAFKA_BROKERS stops with one line naming it', async () => {
  const failure = await run(process.execPath, [stowage, 'topics', 'ensure'], {
    env: { ...process.env, KAFKA_BROKERS: '' },
  }).catch((error: { code: number; stderr: string }) => error);
  assert.ok('code' in failure);
  assert.equal(failure.code, 2);
  assert.match(failure.stderr, /^stowage: invalid setting KAFKA_BROKERS: /);
});

test('over SASL_SSL, as managed brokers ask: SCRAM-SHA-512, the certificate checked against a CA file', async () => {
  const secured = uniqueWorkerNames();
  const saslTls = { ...workerEnv(secured), ...kafkaSaslTlsSettings() };
  try {
    const { stdout } = await run(process.execPath, [stowage, 'topics', 'ensure'], {
      env: { ...process.env, ...saslTls },
    });
    const topics = [secured.requested, secured.completed, secured.failed];
    assert.deepEqual(JSON.parse(stdout), { created: topics, differences: [] });
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
    assert.deepEqual(metadata.map((topic) => topic.name).sort(), [...topics].sort());

    const refused = await run(process.execPath, [stowage, 'topics', 'ensure'], {
      env: { ...process.env, ...saslTls, KAFKA_SASL_PASSWORD: 'not-the-kafka-password' },
    }).catch((error: { code: number; stderr: string }) => error);
    assert.ok('code' in refused, 'a wrong password is refused');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /SASL SCRAM SHA512 authentication failed/);
    assert.equal(refused.stderr.includes('not-the-kafka-password'), false, 'the password leaked');
  } finally {
    await deleteTopics(kafka, secured);
  }
});
