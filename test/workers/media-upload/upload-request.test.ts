import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { parseUploadRequest } from '../../../src/workers/media-upload/upload-request.ts';

const valid = {
  id: 'wamid.HBgMNTUxMTk5OTk5OTk5FQIAEhggQTY=',
  instance: 'my-instance',
  contentType: 'image/jpeg',
  source: { base64: Buffer.from('jpeg').toString('base64') },
};

const parse = (value: unknown) => parseUploadRequest(Buffer.from(JSON.stringify(value)));

test('a valid request parses; its sha256 is accepted in hex or base64', () => {
  const digest = createHash('sha256').update('jpeg').digest();
  for (const sha256 of [digest.toString('hex'), digest.toString('base64')]) {
    const parsed = parse({ ...valid, sha256, source: { url: 'https://cdn.example.com/a.jpg' } });
    assert.equal(parsed.valid, true, JSON.stringify(parsed));
    if (parsed.valid) assert.ok(parsed.request.sha256?.equals(digest));
  }
});

for (const [what, value, field] of [
  ['not JSON', '{"id":', 'message'],
  ['an id with a slash', { ...valid, id: '../etc/passwd' }, 'id'],
  ['an instance name with a space', { ...valid, instance: 'my instance' }, 'instance'],
  [
    'a header-breaking content type',
    { ...valid, contentType: 'text/plain\r\nx: y' },
    'contentType',
  ],
  [
    'both sources at once',
    { ...valid, source: { base64: 'YQ==', url: 'https://a.b/c' } },
    'source',
  ],
  ['a file: URL', { ...valid, source: { url: 'file:///etc/passwd' } }, 'source'],
  ['base64 with stray characters', { ...valid, source: { base64: 'not base64!' } }, 'source'],
  ['a short digest', { ...valid, sha256: 'abc' }, 'sha256'],
  ['metadata that is not ASCII', { ...valid, metadata: { chat: 'olá' } }, 'metadata'],
] as const) {
  test(`${what} is invalid, and says which field`, () => {
    const parsed = parseUploadRequest(
      Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    );
    assert.equal(parsed.valid, false);
    if (!parsed.valid) assert.ok(parsed.problem.startsWith(field), parsed.problem);
  });
}

test('an invalid request still names its id and instance when it has them', () => {
  const parsed = parse({ id: 'abc', instance: 'inst', contentType: 'image/jpeg' });
  assert.deepEqual(parsed.valid ? undefined : { id: parsed.id, instance: parsed.instance }, {
    id: 'abc',
    instance: 'inst',
  });
  assert.equal(parseUploadRequest(null).valid, false);
});
