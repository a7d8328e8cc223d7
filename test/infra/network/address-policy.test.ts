import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addressProblem,
  hostProblem,
  type AddressPolicy,
} from '../../../src/infra/network/address-policy.ts';
import { hostileHosts } from './hostile-hosts.ts';

const strict: AddressPolicy = { allowPrivate: false };
const lenient: AddressPolicy = { allowPrivate: true };

/** What the WHATWG URL parser makes of the host, or undefined when it refuses the URL. */
function parsedHost(url: string): string | undefined {
  try {
    return new URL(url.replace('PORT', '9000')).hostname;
  } catch {
    return undefined;
  }
}

describe('every hostile host is refused once the URL parser has normalised it', () => {
  for (const [name, url] of hostileHosts) {
    const host = parsedHost(url);
    // Names other than localhost are only known to be hostile once resolved (tested on routes).
    if (host && !/^[\d.]+$|^\[|localhost\.?$/i.test(host)) continue;
    test(name, () => {
      if (host === undefined) return; // the parser refuses it: never contacted
      assert.ok(hostProblem(host, strict), `${url} -> ${host} passed`);
    });
  }
});

describe('addresses', () => {
  for (const address of [
    '52.216.1.1',
    '8.8.8.8',
    '2600:1f18::1',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
    '::8.8.8.8',
    '100.128.0.1',
  ]) {
    test(`public ${address} is allowed`, () =>
      assert.equal(addressProblem(address, strict), undefined));
  }

  for (const [address, why] of [
    ['127.0.0.1', /private or loopback/],
    ['::1', /private or loopback/],
    ['::ffff:10.1.2.3', /private or loopback/],
    ['64:ff9b::c0a8:1', /private or loopback/],
    ['100.64.0.1', /private or loopback/],
    ['fc00::1', /private or loopback/],
    ['169.254.169.254', /metadata/],
    ['169.254.170.2', /metadata/],
    ['::ffff:169.254.169.254', /metadata/],
    ['::ffff:0:a9fe:a9fe', /metadata/],
    ['::169.254.169.254', /metadata/],
    ['64:ff9b::a9fe:a9fe', /metadata/],
    ['2002:a9fe:a9fe::1', /metadata/],
    ['2001:0:a9fe:a9fe::', /metadata/],
    ['2001:0:4136:e378:8000:63bf:5601:5601', /metadata/],
    ['fd00:ec2::254', /metadata/],
    ['fd00:ec2::23', /metadata/],
    ['100.100.100.200', /metadata/],
    ['168.63.129.16', /metadata/],
    ['192.0.0.192', /metadata/],
    ['169.254.1.1', /link-local/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['0.0.0.0', /reserved/],
    ['0.1.2.3', /reserved/],
    ['::', /reserved/],
    ['224.0.0.1', /reserved/],
    ['ff02::1', /reserved/],
    ['255.255.255.255', /reserved/],
    ['240.0.0.1', /reserved/],
    ['192.0.2.1', /reserved/],
    ['198.51.100.1', /reserved/],
    ['203.0.113.1', /reserved/],
    ['198.18.0.1', /reserved/],
    ['198.19.255.255', /reserved/],
    ['2001:db8::1', /reserved/],
    ['2001:2::1', /reserved/],
    ['fec0::1', /reserved/],
    ['100::1', /reserved/],
    ['not an address', /not an IP address/],
  ] as const) {
    test(`${address} is refused`, () => assert.match(addressProblem(address, strict) ?? '', why));
  }

  test('NAT64 local-use is judged in every layout its prefix length allows', () => {
    // 169.254.169.254 after a /56 prefix: bits 56-63 and 72-95, around the zero u-octet.
    assert.match(addressProblem('64:ff9b:1:8a9:fe:a9fe:808:808', lenient) ?? '', /metadata/);
    // Read as /48, a /96 address has zeros where the IPv4 address would be: refused too.
    assert.match(addressProblem('64:ff9b:1::808:808', lenient) ?? '', /reserved/);
  });

  test('private and loopback are allowed with the flag; metadata, link-local and reserved never', () => {
    for (const address of [
      '127.0.0.1',
      '::1',
      '10.0.0.1',
      '::ffff:7f00:1',
      'fd00::1',
      '100.64.0.1',
    ]) {
      assert.equal(addressProblem(address, lenient), undefined, address);
    }
    for (const address of [
      '169.254.169.254',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a9fe:a9fe',
      'fd00:ec2::254',
      '100.100.100.200',
      'fe80::1',
      '0.0.0.0',
      '224.0.0.1',
    ]) {
      assert.ok(addressProblem(address, lenient), address);
    }
  });
});

describe('host names', () => {
  test('localhost and names under it are loopback, with or without a trailing dot', () => {
    for (const host of ['localhost', 'LOCALHOST', 'localhost.', 'a.b.localhost', 'x.localhost..']) {
      assert.match(hostProblem(host, strict) ?? '', /loopback/, host);
      assert.equal(hostProblem(host, lenient), undefined, host);
    }
  });

  test('other names are left to resolution; bracketed literals are judged', () => {
    assert.equal(hostProblem('s3.amazonaws.com', strict), undefined);
    assert.equal(hostProblem('localhost.example.com', strict), undefined);
    assert.match(hostProblem('[::ffff:7f00:1]', strict) ?? '', /loopback/);
  });
});
