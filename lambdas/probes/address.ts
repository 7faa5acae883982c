import { isIP } from 'node:net';

/**
 * The SSRF guard's classifier: which addresses a monitor must not be made to connect to
 * (its own host, the networks it runs in, the cloud metadata service) unless a server entry
 * says allowPrivateAddress. Judged on the address actually connected to, after resolution
 * and --resolve pins, so no DNS answer can move a check onto a private address.
 *
 * Decisions worth knowing:
 * - 100.64.0.0/10 (carrier-grade NAT, RFC 6598) is refused: it is not the public Internet,
 *   cloud providers use it inside their networks (Alibaba's metadata service is
 *   100.100.100.200), and a mail server HubSpot can reach is never there.
 * - The documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are "public":
 *   nothing of the monitor's lives there, and refusing them protects nothing. (Tests use them
 *   as harmless, unroutable examples and never connect to them.)
 * - IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
 *   ::a.b.c.d, NAT64 64:ff9b::/96) are judged by the IPv4 address inside.
 */
export type AddressRange =
  | 'public'
  | 'unspecified'
  | 'this-network'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'unique-local'
  | 'site-local'
  | 'multicast'
  | 'reserved'
  | 'broadcast'
  | 'invalid';

export interface AddressClass {
  range: AddressRange;
  /** For people: "loopback (127.0.0.0/8)". */
  description: string;
}

type Rule = [first: number[], prefix: number, range: AddressRange, description: string];

const V4: Rule[] = [
  [[0, 0, 0, 0], 32, 'unspecified', 'unspecified (0.0.0.0)'],
  [[0, 0, 0, 0], 8, 'this-network', '"this network" (0.0.0.0/8)'],
  [[127, 0, 0, 0], 8, 'loopback', 'loopback (127.0.0.0/8)'],
  [[10, 0, 0, 0], 8, 'private', 'private (RFC 1918, 10.0.0.0/8)'],
  [[172, 16, 0, 0], 12, 'private', 'private (RFC 1918, 172.16.0.0/12)'],
  [[192, 168, 0, 0], 16, 'private', 'private (RFC 1918, 192.168.0.0/16)'],
  [[169, 254, 169, 254], 32, 'link-local', 'link-local, the cloud instance metadata address (169.254.169.254)'],
  [[169, 254, 0, 0], 16, 'link-local', 'link-local (169.254.0.0/16)'],
  [[100, 64, 0, 0], 10, 'shared', 'shared carrier-grade NAT space (RFC 6598, 100.64.0.0/10)'],
  [[192, 0, 0, 0], 24, 'reserved', 'IETF protocol assignments (192.0.0.0/24)'],
  [[198, 18, 0, 0], 15, 'reserved', 'benchmarking (198.18.0.0/15)'],
  [[255, 255, 255, 255], 32, 'broadcast', 'broadcast (255.255.255.255)'],
  [[224, 0, 0, 0], 4, 'multicast', 'multicast (224.0.0.0/4)'],
  [[240, 0, 0, 0], 4, 'reserved', 'reserved (240.0.0.0/4)'],
];

const V6: Rule[] = [
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 128, 'unspecified', 'unspecified (::)'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128, 'loopback', 'loopback (::1)'],
  [[0xfe, 0x80], 10, 'link-local', 'link-local (fe80::/10)'],
  [[0xfe, 0xc0], 10, 'site-local', 'site-local (fec0::/10, deprecated)'],
  [[0xfc], 7, 'unique-local', 'unique-local (fc00::/7)'],
  [[0xff], 8, 'multicast', 'multicast (ff00::/8)'],
  [[0x01, 0, 0, 0, 0, 0, 0, 0], 64, 'reserved', 'discard-only (100::/64)'],
];

function matches(bytes: readonly number[], first: readonly number[], prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const i = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((bytes[i] ?? 0) & mask) !== ((first[i] ?? 0) & mask)) return false;
  }
  return true;
}

function v4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** 16 bytes of an IPv6 address (with "::" and a dotted IPv4 tail expanded); the zone is dropped. */
function v6Bytes(ip: string): number[] {
  let s = ip.replace(/%.*$/, '');
  let tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted?.[1]) {
    tail = v4Bytes(dotted[1]);
    s = s.slice(0, dotted.index) + '0:0';
  }
  const [head = '', rest] = s.split('::');
  const groups = (x: string): number[] => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const words = [...h, ...Array<number>(8 - h.length - r.length).fill(0), ...r];
  const bytes = words.flatMap((w) => [(w >> 8) & 0xff, w & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function classifyV4(bytes: number[]): AddressClass {
  const rule = V4.find(([first, prefix]) => matches(bytes, first, prefix));
  return rule ? { range: rule[2], description: rule[3] } : { range: 'public', description: 'public' };
}

export function classifyAddress(ip: string): AddressClass {
  const family = isIP(ip);
  if (family === 4) return classifyV4(v4Bytes(ip));
  if (family !== 6) return { range: 'invalid', description: 'not an IP address' };
  const b = v6Bytes(ip);
  const embedded = b.slice(12, 16);
  const within = (prefix: number[], bits: number): boolean => matches(b, prefix, bits);
  // ::ffff:a.b.c.d (mapped), 64:ff9b::a.b.c.d (NAT64), ::a.b.c.d (compatible; not :: or ::1).
  const mapped = within([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96);
  const nat64 = within([0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96);
  const compatible = within([], 96) && (embedded[0] ?? 0) + (embedded[1] ?? 0) + (embedded[2] ?? 0) > 0;
  if (mapped || nat64 || compatible) {
    const inner = classifyV4(embedded);
    const form = mapped ? 'IPv4-mapped' : nat64 ? 'NAT64' : 'IPv4-compatible';
    return inner.range === 'public' ? inner : { range: inner.range, description: `${inner.description}, ${form} as ${ip}` };
  }
  const rule = V6.find(([first, prefix]) => matches(b, first, prefix));
  return rule ? { range: rule[2], description: rule[3] } : { range: 'public', description: 'public' };
}

/**
 * Why the monitor must not connect to this address (one line naming it and the way to
 * allow it), or undefined when it is a public address.
 */
export function privateAddressRefusal(address: string): string | undefined {
  const c = classifyAddress(address);
  if (c.range === 'public') return undefined;
  if (c.range === 'invalid') return `the resolver answered "${address}", which is not an IP address: not connecting`;
  return `${address} is ${c.description}: not connecting to it from the monitor (set allowPrivateAddress on this server to allow it)`;
}
