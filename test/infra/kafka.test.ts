import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createKafka } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { kafkaBrokers } from '../support/services.ts';

test('the real Kafka broker takes a topic, a produced message and a consumer group', async () => {
  const kafka = createKafka(kafkaBrokers(), 'stowage-smoke', createLogger('warn'));
  const topic = `smoke-${randomUUID()}`;
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
  try {
    assert.equal(
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }),
      true,
    );
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'a', value: 'first' },
        { key: 'b', value: 'second' },
      ],
    });

    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Promise<string[]>((resolve, reject) => {
      const values: string[] = [];
      // A consumer that fails to start fails the test instead of leaving it waiting.
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(String(message.value));
            if (values.length === 2) resolve(values.sort());
          },
        })
        .catch(reject);
    });
    assert.deepEqual(await received, ['first', 'second']);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    // eslint-disable-next-line no-restricted-syntax -- cleanup: topic names are unique to this run, a leftover disturbs nothing
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});
