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
  // Header-safe values: every one of these would reach (or break) the PUT's headers.
  [
    'a CR/LF before the parameters',
    { ...valid, contentType: 'image/jpeg\r\n; a=b' },
    'contentType',
  ],
  ['a tab in a content type', { ...valid, contentType: 'image/jpeg\t; a=b' }, 'contentType'],
  ['a LF in a parameter', { ...valid, contentType: 'text/plain; a=\nb' }, 'contentType'],
  ['a non-ASCII parameter', { ...valid, contentType: 'text/plain; name=ü' }, 'contentType'],
  ['a non-ASCII media type', { ...valid, contentType: 'imäge/jpeg' }, 'contentType'],
  [
    'a no-break space in a content type',
    { ...valid, contentType: 'image/jpeg\u00a0' },
    'contentType',
  ],
  ['a file name with CR/LF', { ...valid, fileName: 'a.jpg\r\nx-amz-acl: public' }, 'fileName'],
  ['a file name with a NUL', { ...valid, fileName: 'a\u0000.jpg' }, 'fileName'],
  ['a file name with a C1 control', { ...valid, fileName: 'a\u0085.jpg' }, 'fileName'],
  ['a file name with a line separator', { ...valid, fileName: 'a\u2028.jpg' }, 'fileName'],
  ['a file name with a lone surrogate', { ...valid, fileName: 'a\ud800.jpg' }, 'fileName'],
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

test('file names in any script and content types with parameters are accepted', () => {
  for (const fileName of ['Relatório 2026 – final (1).pdf', '合同.docx', '📄 notes.txt']) {
    assert.equal(parse({ ...valid, fileName }).valid, true, fileName);
  }
  for (const contentType of ['audio/ogg; codecs=opus', 'text/plain;charset=utf-8']) {
    assert.equal(parse({ ...valid, contentType }).valid, true, contentType);
  }
});
