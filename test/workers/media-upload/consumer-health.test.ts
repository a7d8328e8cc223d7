import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { ConsumerHealth } from '../../../src/workers/media-upload/consumer-health.ts';
import { waitUntil } from '../../projections/support/read-model.ts';
import { kafkaBrokers } from '../../support/services.ts';
import { initSealing } from '../../../src/infra/sealing.ts';

await initSealing();

const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
const topic = `test-${randomUUID().slice(0, 8)}-health`;

before(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
});

after(async () => {
  const admin = kafka.admin();
  await admin.connect();
  // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

const unhealthy = (health: ConsumerHealth) => {
  try {
    health.check();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
};

test('a real consumer: not ready before joining, ready once in its group, not ready after a crash kafkajs does not restart from', async () => {
  const consumer = kafka.consumer({
    groupId: `${topic}-group`,
    retry: { retries: 0, restartOnFailure: async () => false },
  });
  const health = new ConsumerHealth(consumer);
  assert.match(unhealthy(health) ?? '', /has not joined its group/);
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async () => {
        throw new Error('the handler broke');
      },
    });
    await waitUntil(() => unhealthy(health) === undefined, { what: 'the consumer to join' });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'x' }] });
    await producer.disconnect();
    await waitUntil(() => /crashed for good/.test(unhealthy(health) ?? ''), {
      what: 'the crash to be seen',
    });
    assert.match(unhealthy(health)!, /the handler broke/);
  } finally {
    await consumer.disconnect();
  }
});

test('a consumer that stopped is not ready', async () => {
  const consumer = kafka.consumer({ groupId: `${topic}-stopped` });
  const health = new ConsumerHealth(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async () => {} });
  await waitUntil(() => unhealthy(health) === undefined, { what: 'the consumer to join' });
  await consumer.stop();
  assert.match(unhealthy(health) ?? '', /has stopped/);
  await consumer.disconnect();
});
