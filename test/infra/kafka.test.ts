import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Kafka } from 'kafkajs';
import { createKafka, kafkaSecurity } from '../../src/infra/kafka.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { loadSettings } from '../../src/settings.ts';
import { capturedLog } from '../support/captured-log.ts';
import { kafkaBrokers, kafkaSaslListeners, kafkaSaslTlsSettings } from '../support/services.ts';

test('the real Kafka broker takes a topic, a produced message and a consumer group', async () => {
  await roundTrip(createKafka(kafkaBrokers(), 'stowage-smoke', createLogger('warn')));
});

test('SASL PLAIN on the SASL_PLAINTEXT listener, as the settings name it', async () => {
  const listeners = kafkaSaslListeners();
  const settings = loadSettings({
    KAFKA_BROKERS: listeners.plaintext.join(','),
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: listeners.username,
    KAFKA_SASL_PASSWORD: listeners.password,
  });
  const { logger, lines } = capturedLog('debug');
  await roundTrip(
    createKafka(settings.KAFKA_BROKERS!, 'stowage-smoke', logger, kafkaSecurity(settings)),
  );
  assert.match(
    lines.join(''),
    /"level":40,.*KAFKA_SASL_MECHANISM=plain without KAFKA_TLS sends the password in clear text/,
  );
  assert.equal(lines.join('').includes(listeners.password), false);
});

test("SCRAM-SHA-512 over TLS, the broker's certificate checked against KAFKA_TLS_CA_FILE", async () => {
  const { logger, lines } = capturedLog('debug');
  await roundTrip(createKafka(kafkaSaslListeners().tls, 'stowage-smoke', logger, tlsSecurity()));
  assert.equal(lines.join('').includes('clear text'), false);
});

test("without the CA file the broker's self-signed certificate is refused", async () => {
  const { logger, lines } = capturedLog('debug');
  const admin = createKafka(kafkaSaslListeners().tls, 'stowage-smoke', logger, {
    ...tlsSecurity(),
    tls: {},
  }).admin();
  await assert.rejects(admin.connect(), /self-signed certificate|self signed certificate/);
  await admin.disconnect();
  assert.ok(lines.length > 0, 'the refusal is logged');
});

test('a wrong password is refused, and neither the error nor the log holds it', async () => {
  const wrong = `wrong-kafka-password-${process.pid}`;
  const { logger, lines } = capturedLog('debug');
  const security = tlsSecurity();
  const admin = createKafka(kafkaSaslListeners().tls, 'stowage-smoke', logger, {
    ...security,
    sasl: { mechanism: 'scram-sha-512', username: kafkaSaslListeners().username, password: wrong },
  }).admin();
  let refusal: unknown;
  await admin.connect().catch((error: unknown) => (refusal = error));
  await admin.disconnect();
  assert.match(String(refusal), /SASL SCRAM SHA512 authentication failed/);
  const everything = `${String(refusal)} ${JSON.stringify(refusal)} ${(refusal as Error).stack} ${lines.join('')}`;
  assert.equal(everything.includes(wrong), false, 'the password leaked');
  assert.equal(everything.includes(kafkaSaslListeners().password), false, 'the real one leaked');
});

function tlsSecurity() {
  return kafkaSecurity(loadSettings(kafkaSaslTlsSettings()));
}

/** Creates a topic, produces two messages and reads them back in a consumer group. */
async function roundTrip(kafka: Kafka) {
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
}
