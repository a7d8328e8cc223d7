import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectKey } from '../../../src/workers/media-upload/object-key.ts';

test('the key is prefix + id + an extension from the file name, else from the media type', () => {
  assert.equal(objectKey('media/a/', 'm1', 'Photo.JPEG', 'image/png'), 'media/a/m1.jpeg');
  assert.equal(objectKey('media/a/', 'm1', undefined, 'image/jpeg'), 'media/a/m1.jpg');
  assert.equal(objectKey('', 'm1', 'voice', 'audio/ogg; codecs=opus'), 'm1.ogg');
  assert.equal(objectKey('', 'm1', 'report.final.PDF', 'application/octet-stream'), 'm1.pdf');
  assert.equal(objectKey('x/', 'm1', undefined, 'application/x-unknown'), 'x/m1');
  // Only a plain extension is taken from a name: nothing that could add a path.
  assert.equal(objectKey('x/', 'm1', 'a.b/../../c', 'text/plain'), 'x/m1.txt');
});

test('the same message always gets the same key, so a redelivery overwrites it', () => {
  const once = objectKey('p/', 'abc', 'a.mp4', 'video/mp4');
  assert.equal(objectKey('p/', 'abc', 'a.mp4', 'video/mp4'), once);
});
