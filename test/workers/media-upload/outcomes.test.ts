import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  describeMessage,
  failed,
  maxFailedOutcomeBytes,
  minimalOutcome,
  outcomeRecord,
} from '../../../src/workers/media-upload/outcomes.ts';

const topics = { completed: 'done', failed: 'broken' };
const where = { topic: 'requested', partition: 3, offset: '42' };

test('an invalid message is described by size, digest and a short excerpt, never copied', () => {
  const value = Buffer.from(`{"oops":"${'x'.repeat(5 * 1024 * 1024)}`);
  const described = describeMessage({ ...where, key: Buffer.from('inst'), value });
  assert.deepEqual(described, {
    ...where,
    size: value.length,
    sha256: createHash('sha256').update(value).digest('hex'),
    key: { text: 'inst', encoding: 'utf8', truncated: false },
    excerpt: { text: value.subarray(0, 256).toString(), encoding: 'utf8', truncated: true },
  });
});

test('an excerpt is text when UTF-8 (a character cut at its end dropped), else base64', () => {
  const cut = describeMessage({ ...where, key: null, value: Buffer.from('é'.repeat(200)) });
  assert.deepEqual(cut.excerpt, { text: 'é'.repeat(128), encoding: 'utf8', truncated: true });
  const binary = describeMessage({ ...where, key: null, value: Buffer.from([0xff, 0xfe, 0]) });
  assert.deepEqual(binary.excerpt, { text: '//4A', encoding: 'base64', truncated: false });
  assert.equal(describeMessage({ ...where, key: null, value: null }).sha256, null);
});

test('a failed outcome stays under its bound whatever the message holds', () => {
  // The worst case for JSON: characters escaped to six bytes each, in every field.
  const hostile = '\u0001'.repeat(1024 * 1024);
  const outcome = failed({
    id: hostile,
    instance: hostile,
    code: hostile,
    reason: hostile,
    attempts: 1,
    retryable: false,
    message: describeMessage({
      topic: 't'.repeat(249),
      partition: 0,
      offset: '9223372036854775807',
      key: Buffer.from(hostile),
      value: Buffer.from(hostile),
    }),
  });
  const record = outcomeRecord(outcome, topics, Buffer.from(hostile));
  const bytes = Buffer.byteLength(record.message.value) + Buffer.byteLength(record.message.key!);
  assert.ok(bytes <= maxFailedOutcomeBytes, `${bytes} bytes`);
  assert.ok(outcome.type === 'failed' && outcome.body.reason.length < 500);
});

test('a request key too long to copy becomes its digest; the instance wins when known', () => {
  const body = { id: null, instance: null, code: 'c', reason: 'r', attempts: 1, retryable: false };
  const longKey = Buffer.alloc(1000, 'k');
  assert.equal(
    outcomeRecord(failed(body), topics, longKey).message.key,
    `sha256:${createHash('sha256').update(longKey).digest('hex')}`,
  );
  assert.deepEqual(outcomeRecord(failed(body), topics, Buffer.from('inst')), {
    topic: 'broken',
    message: { key: 'inst', value: JSON.stringify(body) },
  });
  assert.equal(outcomeRecord(failed({ ...body, instance: 'x' }), topics, null).message.key, 'x');
});

test('the minimal outcome names the message and why its outcome could not be published', () => {
  const original = failed({
    id: 'm1',
    instance: 'inst',
    code: 'invalid-message',
    reason: 'r'.repeat(400),
    attempts: 2,
    retryable: false,
  });
  const minimal = minimalOutcome(original, where, 'MESSAGE_TOO_LARGE');
  assert.deepEqual(minimal, {
    type: 'failed',
    body: {
      id: 'm1',
      instance: 'inst',
      code: 'outcome-unpublishable',
      reason: 'the failed outcome could not be published (MESSAGE_TOO_LARGE)',
      attempts: 2,
      retryable: false,
      message: { ...where, size: 0, sha256: null, key: null, excerpt: null },
    },
  });
  assert.ok(outcomeRecord(minimal, topics, null).message.value.length < 400);
});
