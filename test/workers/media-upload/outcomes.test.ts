import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failed, outcomeRecord, rawMessage } from '../../../src/workers/media-upload/outcomes.ts';

const topics = { completed: 'done', failed: 'broken' };

test('an invalid message is kept as text when it is UTF-8, else as base64', () => {
  const text = rawMessage('requested', 3, {
    offset: '42',
    key: Buffer.from('inst'),
    value: Buffer.from('{"oops'),
  });
  assert.deepEqual(text, {
    topic: 'requested',
    partition: 3,
    offset: '42',
    key: 'inst',
    value: '{"oops',
    valueEncoding: 'utf8',
  });
  const binary = rawMessage('requested', 0, {
    offset: '1',
    key: null,
    value: Buffer.from([0xff, 0xfe, 0x00]),
  });
  assert.equal(binary.valueEncoding, 'base64');
  assert.ok(Buffer.from(binary.value!, 'base64').equals(Buffer.from([0xff, 0xfe, 0x00])));
});

test('outcomes are keyed by instance, or by the request key when there is none', () => {
  const body = {
    id: null,
    instance: null,
    code: 'invalid-message',
    reason: 'r',
    attempts: 1,
    retryable: false,
  };
  assert.deepEqual(outcomeRecord(failed(body), topics, 'inst'), {
    topic: 'broken',
    message: { key: 'inst', value: JSON.stringify(body) },
  });
  assert.equal(outcomeRecord(failed({ ...body, instance: 'x' }), topics, 'y').message.key, 'x');
});
