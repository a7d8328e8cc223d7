import { readFileSync } from 'node:fs';

/**
 * Hosts that all lead into our own network, written every way an attacker might: URL templates
 * whose `PORT` is replaced by the port of a listener the test watches. Most point at 127.0.0.1
 * or ::1 (where that listener is); the others at ranges that must be refused as well.
 */
export const hostileHosts: readonly (readonly [name: string, url: string])[] = [
  ['dotted loopback', 'http://127.0.0.1:PORT'],
  ['decimal', 'http://2130706433:PORT'],
  ['octal', 'http://0177.0.0.1:PORT'],
  ['octal, whole', 'http://017700000001:PORT'],
  ['hex, dotted', 'http://0x7f.0x0.0x0.0x1:PORT'],
  ['hex, short', 'http://0x7f.1:PORT'],
  ['hex, whole', 'http://0x7f000001:PORT'],
  ['short', 'http://127.1:PORT'],
  ['three parts', 'http://127.0.1:PORT'],
  ['trailing dot', 'http://127.0.0.1.:PORT'],
  ['percent-encoded', 'http://%31%32%37.0.0.1:PORT'],
  ['full-width digits', 'http://１２７.０.０.１:PORT'],
  ['elsewhere in 127/8', 'http://127.127.127.127:PORT'],
  ['unspecified', 'http://0.0.0.0:PORT'],
  ['unspecified, short', 'http://0:PORT'],
  ['IPv6 loopback', 'http://[::1]:PORT'],
  ['IPv6 loopback, long', 'http://[0:0:0:0:0:0:0:1]:PORT'],
  ['IPv6 unspecified', 'http://[::]:PORT'],
  ['IPv4-mapped, dotted', 'http://[::ffff:127.0.0.1]:PORT'],
  ['IPv4-mapped, hex', 'http://[::ffff:7f00:1]:PORT'],
  ['IPv4-mapped, long', 'http://[0:0:0:0:0:ffff:7f00:0001]:PORT'],
  ['IPv4-translated (SIIT)', 'http://[::ffff:0:7f00:1]:PORT'],
  ['IPv4-compatible', 'http://[::127.0.0.1]:PORT'],
  ['NAT64', 'http://[64:ff9b::127.0.0.1]:PORT'],
  ['NAT64 local-use', 'http://[64:ff9b:1::7f00:1]:PORT'],
  ['6to4', 'http://[2002:7f00:1::1]:PORT'],
  ['Teredo client', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:PORT'],
  ['Teredo server', 'http://[2001:0:7f00:1::1]:PORT'],
  ['zone id', 'http://[fe80::1%25lo]:PORT'],
  ['IPv6 link-local', 'http://[fe80::1]:PORT'],
  ['metadata', 'http://169.254.169.254:PORT'],
  ['metadata, decimal', 'http://2852039166:PORT'],
  ['metadata, IPv4-mapped', 'http://[::ffff:a9fe:a9fe]:PORT'],
  ['metadata, NAT64', 'http://[64:ff9b::a9fe:a9fe]:PORT'],
  ['metadata, 6to4', 'http://[2002:a9fe:a9fe::]:PORT'],
  ['metadata, Teredo client', 'http://[2001:0:4136:e378:8000:63bf:5601:5601]:PORT'],
  ['AWS IPv6 metadata', 'http://[fd00:ec2::254]:PORT'],
  ['Alibaba metadata', 'http://100.100.100.200:PORT'],
  ['private 10/8', 'http://10.0.0.1:PORT'],
  ['private 172.16/12', 'http://172.16.0.1:PORT'],
  ['private 192.168/16', 'http://192.168.0.1:PORT'],
  ['carrier-grade NAT', 'http://100.64.0.1:PORT'],
  ['unique-local', 'http://[fd00::1]:PORT'],
  ['multicast', 'http://224.0.0.1:PORT'],
  ['broadcast', 'http://255.255.255.255:PORT'],
  ['reserved 240/4', 'http://240.0.0.1:PORT'],
  ['documentation 192.0.2/24', 'http://192.0.2.1:PORT'],
  ['documentation 198.51.100/24', 'http://198.51.100.1:PORT'],
  ['documentation 203.0.113/24', 'http://203.0.113.1:PORT'],
  ['benchmarking', 'http://198.18.0.1:PORT'],
  ['IPv6 documentation', 'http://[2001:db8::1]:PORT'],
  ['IPv6 benchmarking', 'http://[2001:2::1]:PORT'],
  ['IPv6 multicast', 'http://[ff02::1]:PORT'],
  ['localhost', 'http://localhost:PORT'],
  ['localhost, trailing dot', 'http://localhost.:PORT'],
  ['localhost, capitals', 'http://LOCALHOST:PORT'],
  ['under .localhost', 'http://a.b.localhost:PORT'],
  ...loopbackNamesInHostsFile().map(
    (name) => [`${name} (/etc/hosts)`, `http://${name}:PORT`] as const,
  ),
];

/** Names this machine's /etc/hosts maps to loopback: resolved by real DNS, not by their shape. */
function loopbackNamesInHostsFile(): string[] {
  let text = '';
  try {
    text = readFileSync('/etc/hosts', 'utf8');
  } catch {
    return [];
  }
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const [address, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (address !== '127.0.0.1' && address !== '::1') continue;
    for (const name of aliases) if (!/(^|\.)localhost$/i.test(name)) names.add(name);
  }
  return [...names];
}

export function withPort(url: string, port: number): string {
  return url.replace('PORT', String(port));
}
