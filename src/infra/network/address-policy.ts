import ipaddr from 'ipaddr.js';

/**
 * The one place that decides whether the service may open a connection to an IP address a
 * customer chose (an S3 endpoint, a media URL or one of its redirects). Every path asks it: the
 * endpoint check on POST and on `…/test`, and the guarded agents when they connect.
 */
export interface AddressPolicy {
  /** Loopback and private ranges; only for tests and for servers on the same private network. */
  allowPrivate: boolean;
}

/** Why an address may not be contacted, or undefined when it may. */
export type AddressCheck = (address: string) => string | undefined;

const metadata = 'must not point at a cloud metadata address';
const linkLocal = 'must not point at a link-local address';
const privateOrLoopback = 'must not point at a private or loopback address';
const reserved = 'must not point at a reserved, multicast or documentation address';

// Instance metadata and platform services that hand out the credentials of the machine we run
// on; never allowed, whatever the policy.
const metadataRanges = [
  '169.254.169.254/32', // AWS, GCP, Azure, DigitalOcean, OpenStack
  '169.254.170.2/32', // AWS ECS task credentials
  'fd00:ec2::/64', // AWS: IMDS fd00:ec2::254, DNS fd00:ec2::253, NTP fd00:ec2::123
  '100.100.100.200/32', // Alibaba Cloud (inside carrier-grade NAT space)
  '168.63.129.16/32', // Azure WireServer (a public address)
  '192.0.0.192/32', // Oracle Cloud
].map((range) => ipaddr.parseCIDR(range));

// ipaddr.js range names allowed with STOWAGE_ALLOW_PRIVATE_ENDPOINTS=true; every other named
// range but 'unicast' is refused always.
const privateRanges = new Set(['loopback', 'private', 'carrierGradeNat', 'uniqueLocal']);

export function addressProblem(address: string, policy: AddressPolicy): string | undefined {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    return 'is not an IP address';
  }
  const judged = [ip, ...embeddedIPv4(ip)];
  // The most serious refusal wins, so the message says what the address really is.
  for (const problem of [metadata, linkLocal, reserved, privateOrLoopback]) {
    if (judged.some((one) => problemOf(one, policy) === problem)) return problem;
  }
  return undefined;
}

/** The same question for the host of a parsed URL: a literal address or a name. */
export function hostProblem(hostname: string, policy: AddressPolicy): string | undefined {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.IPv4.isValidFourPartDecimal(host) || ipaddr.IPv6.isValid(host)) {
    return addressProblem(host, policy);
  }
  // Names are judged once resolved; these never resolve anywhere but here (RFC 6761).
  const name = host.replace(/\.+$/, '').toLowerCase();
  if (!policy.allowPrivate && (name === 'localhost' || name.endsWith('.localhost'))) {
    return privateOrLoopback;
  }
  return undefined;
}

function problemOf(ip: ipaddr.IPv4 | ipaddr.IPv6, policy: AddressPolicy): string | undefined {
  if (metadataRanges.some(([range, bits]) => ip.kind() === range.kind() && ip.match(range, bits))) {
    return metadata;
  }
  const range = ip.range();
  if (range === 'unicast' || embeddingRanges.has(range)) return undefined;
  if (range === 'linkLocal') return linkLocal;
  if (privateRanges.has(range)) return policy.allowPrivate ? undefined : privateOrLoopback;
  return reserved;
}

// IPv6 ranges that carry an IPv4 address: judged by that address (below), not refused as such.
const embeddingRanges = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052', '6to4', 'teredo']);

/**
 * The IPv4 addresses an IPv6 address stands for, once translated or tunnelled. Where the layout
 * is not fixed, every possible reading is returned, and any forbidden one refuses the address:
 * - IPv4-mapped ::ffff:0:0/96, SIIT ::ffff:0:0:0/96, IPv4-compatible ::/96 and NAT64
 *   64:ff9b::/96: the last 32 bits.
 * - NAT64 local-use 64:ff9b:1::/48: the translator's prefix length is the operator's choice, so
 *   every RFC 6052 layout from /48 to /96.
 * - 6to4 2002::/16: bits 16-47.
 * - Teredo 2001::/32: both the server (bits 32-63) and the client (the last 32 bits, inverted).
 */
export function embeddedIPv4(ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4[] {
  if (ip.kind() !== 'ipv6') return [];
  const bytes = ip.toByteArray();
  const at = (offset: number) => new ipaddr.IPv4(bytes.slice(offset, offset + 4));
  const range = (ip as ipaddr.IPv6).range();
  const firstWords = (ip as ipaddr.IPv6).parts;
  const allZero = (count: number) => firstWords.slice(0, count).every((word) => word === 0);
  if (range === 'ipv4Mapped' || range === 'rfc6145') return [at(12)];
  if (range === 'rfc6052') {
    if (firstWords[2] !== 1) return [at(12)];
    // RFC 6052: bits 64-71 are always zero, the IPv4 address flows around them.
    return [48, 56, 64, 96].map((bits) => {
      const octets = bytes.filter((_, index) => index !== 8).slice(bits / 8 - (bits > 64 ? 1 : 0));
      return new ipaddr.IPv4(octets.slice(0, 4));
    });
  }
  if (range === '6to4') return [at(2)];
  if (range === 'teredo') return [at(4), new ipaddr.IPv4(bytes.slice(12).map((b) => b ^ 0xff))];
  // IPv4-compatible (deprecated, but some stacks still route it): ::a.b.c.d, not :: or ::1.
  if (allZero(6) && !(firstWords[6] === 0 && (firstWords[7] ?? 0) <= 1)) return [at(12)];
  return [];
}
