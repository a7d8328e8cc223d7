import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { createMetrics, metricsRoute } from '../../src/http/metrics.ts';
import { PostgresEventStore } from '../../src/infra/event-store/postgres-event-store.ts';
import { projectionLagSeconds } from '../../src/event-sourcing/projection/projection-lag.ts';
import { s3ConfigProjection } from '../../src/projections/s3-config-projection.ts';
import { commandSide, enabling } from '../support/command-side.ts';
import { createTestDatabase } from '../support/database.ts';
import { projectorOver, reached } from '../projections/support/projection-harness.ts';
import { initSealing } from '../../src/infra/sealing.ts';

await initSealing();

test('GET /metrics answers the worker metrics in Prometheus text format', async () => {
  const metrics = createMetrics({ projectionLagSeconds: async () => 1.5 });
  metrics.uploads.uploadFinished('completed', 'completed', 0.2, 1024);
  metrics.uploads.uploadFinished('failed', 'SignatureDoesNotMatch', 0.05, 0);
  metrics.uploads.retryScheduled('ECONNREFUSED');
  metrics.uploads.consumerLag('media.upload.requested', 3, 42);
  const app = Fastify();
  await app.register(metricsRoute(metrics));
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  await app.close();

  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const body = response.body;
  for (const line of [
    'stowage_media_uploads_total{outcome="completed",code="completed"} 1',
    'stowage_media_uploads_total{outcome="failed",code="SignatureDoesNotMatch"} 1',
    'stowage_media_upload_bytes_total 1024',
    'stowage_media_upload_duration_seconds_count{outcome="completed"} 1',
    'stowage_media_upload_retries_total{code="ECONNREFUSED"} 1',
    'stowage_kafka_consumer_lag_messages{topic="media.upload.requested",partition="3"} 42',
    'stowage_projection_lag_seconds 1.5',
  ]) {
    assert.ok(body.includes(line), `missing: ${line}`);
  }
  assert.match(body, /^process_resident_memory_bytes \d+/m);
});

test('a projection lag that cannot be read shows as NaN, the other metrics still answer', async () => {
  const metrics = createMetrics({
    projectionLagSeconds: async () => {
      throw new Error('the event store did not answer');
    },
  });
  const app = Fastify();
  await app.register(metricsRoute(metrics));
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  await app.close();
  assert.equal(response.statusCode, 200);
  assert.match(response.body, /^stowage_projection_lag_seconds nan$/im);
  assert.match(response.body, /^process_resident_memory_bytes \d+/m);
});

test('projection lag is the age of the oldest event the read model has not applied', async () => {
  const database = await createTestDatabase();
  const side = commandSide(database);
  const lag = projectionLagSeconds(
    database.pool,
    new PostgresEventStore(database.pool, database.connect),
    s3ConfigProjection(side.keyring),
  );
  try {
    assert.equal(await lag(), 0, 'nothing to project');
    const outcome = await side.handle(enabling('alpha', 'secret'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok((await lag()) >= 0.1, 'behind by the event just appended');
    const projector = projectorOver(database, { keyring: side.keyring });
    await reached(projector, outcome.position ?? null);
    await projector.stop();
    assert.equal(await lag(), 0, 'caught up');
  } finally {
    await database.drop();
  }
});
