import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bucketNameProblem,
  endpointProblem,
  normaliseEndpoint,
  normalisePathPrefix,
  normalisePublicBaseUrl,
  pathPrefixProblem,
  publicBaseUrlProblem,
} from '../../src/domain/s3-settings-rules.ts';

describe('bucket names', () => {
  for (const name of ['ryzeapi-media', 'whatsapp', 'a.b-c', 'abc', 'x'.repeat(63)]) {
    test(`${name} is accepted`, () => assert.equal(bucketNameProblem(name), undefined));
  }
  for (const name of [
    'ab',
    'x'.repeat(64),
    'Upper',
    'under_score',
    '-start',
    'end-',
    'a..b',
    '192.168.1.1',
    'xn--abc',
    'abc-s3alias',
  ]) {
    test(`${name} is refused`, () => assert.notEqual(bucketNameProblem(name), undefined));
  }
});

describe('path prefixes', () => {
  test('are normalised to no leading slash and exactly one trailing slash', () => {
    assert.equal(normalisePathPrefix('media/myinstance/'), 'media/myinstance/');
    assert.equal(normalisePathPrefix('/media//myinstance'), 'media/myinstance/');
    assert.equal(normalisePathPrefix('ryzeapi'), 'ryzeapi/');
    assert.equal(normalisePathPrefix(''), '');
    assert.equal(normalisePathPrefix('///'), '');
  });

  test('may not climb out of the prefix or carry control characters', () => {
    assert.notEqual(pathPrefixProblem('media/../other/'), undefined);
    assert.notEqual(pathPrefixProblem('..'), undefined);
    assert.notEqual(pathPrefixProblem('a/./b'), undefined);
    assert.notEqual(pathPrefixProblem('a\\b'), undefined);
    assert.notEqual(pathPrefixProblem('a\nb'), undefined);
    assert.equal(pathPrefixProblem('media..files/'), undefined);
  });
});

describe('endpoints', () => {
  test('http(s) origins are accepted and stored without a trailing slash', () => {
    assert.equal(endpointProblem('https://minio.internal.company.com'), undefined);
    assert.equal(endpointProblem('https://nyc3.digitaloceanspaces.com/'), undefined);
    assert.equal(
      normaliseEndpoint('https://s3.us-west-004.backblazeb2.com/'),
      'https://s3.us-west-004.backblazeb2.com',
    );
  });

  for (const [endpoint, why] of [
    ['ftp://minio.example.com', /http\(s\) URL/],
    ['minio.example.com', /http\(s\) URL/],
    ['http://[fe80::1%25eth0]', /http\(s\) URL/],
    ['https://user:pass@minio.example.com', /credentials/],
    ['https://minio.example.com/?x=1', /query or fragment/],
    ['https://minio.example.com/#top', /query or fragment/],
    ['https://minio.example.com/bucket', /path/],
  ] as const) {
    test(`${endpoint} is refused`, () => assert.match(endpointProblem(endpoint) ?? '', why));
  }
});

describe('public base URLs', () => {
  for (const [given, stored] of [
    ['https://cdn.example.com', 'https://cdn.example.com/'],
    ['https://CDN.Example.com:443/media', 'https://cdn.example.com/media/'],
    ['https://my-bucket.s3.amazonaws.com/', 'https://my-bucket.s3.amazonaws.com/'],
    ['https://cdn.example.com:8443/a%20b/c/', 'https://cdn.example.com:8443/a%20b/c/'],
  ] as const) {
    test(`${given} is accepted and stored as ${stored}`, () => {
      assert.equal(publicBaseUrlProblem(given), undefined);
      assert.equal(normalisePublicBaseUrl(given), stored);
    });
  }

  for (const [given, why] of [
    ['http://cdn.example.com/', /https URL/],
    ['ftp://cdn.example.com/', /https URL/],
    ['cdn.example.com/media/', /https URL/],
    ['https://', /https URL/],
    ['https://user:pass@cdn.example.com/', /credentials/],
    ['https://token@cdn.example.com/', /credentials/],
    ['https://cdn.example.com/?sig=1', /query or fragment/],
    ['https://cdn.example.com/?', /query or fragment/],
    ['https://cdn.example.com/#top', /query or fragment/],
    [' https://cdn.example.com/', /spaces/],
    ['https://cdn.exa\tmple.com/', /control characters/],
    ['https:\\\\cdn.example.com\\', /backslashes/],
  ] as const) {
    test(`${JSON.stringify(given)} is refused`, () =>
      assert.match(publicBaseUrlProblem(given) ?? '', why));
  }
});
