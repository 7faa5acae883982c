import { describe, expect, it } from 'vitest';
import { classifyAddress, privateAddressRefusal, type AddressRange } from '../../lambdas/probes/address.js';

/**
 * The SSRF guard's classifier. Decisions (see lambdas/probes/address.ts): carrier-grade NAT
 * space 100.64.0.0/10 is refused (cloud-internal; Alibaba's metadata service lives there);
 * the documentation ranges (TEST-NET) count as public, since nothing of the monitor's is
 * there. No test connects to any of these addresses.
 */
const TABLE: Array<[address: string, range: AddressRange]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.5', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.254', 'private'],
  ['172.15.255.255', 'public'],
  ['172.32.0.1', 'public'],
  ['192.168.1.10', 'private'],
  ['169.254.169.254', 'link-local'],
  ['169.254.0.1', 'link-local'],
  ['100.64.0.1', 'shared'],
  ['100.100.100.200', 'shared'],
  ['100.127.255.254', 'shared'],
  ['100.128.0.1', 'public'],
  ['100.63.255.255', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'this-network'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['198.51.100.7', 'public'],
  ['192.0.2.1', 'public'],
  ['203.0.113.9', 'public'],
  ['8.8.8.8', 'public'],
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf::1', 'link-local'],
  ['fec0::1', 'site-local'],
  ['fd00::1', 'unique-local'],
  ['fc00::1', 'unique-local'],
  ['fd00:ec2::254', 'unique-local'],
  ['ff02::1', 'multicast'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:169.254.169.254', 'link-local'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:0.0.0.0', 'unspecified'],
  ['::ffff:8.8.8.8', 'public'],
  ['::127.0.0.1', 'loopback'],
  ['64:ff9b::10.0.0.1', 'private'],
  ['64:ff9b::808:808', 'public'],
  ['2001:db8::1', 'public'],
  ['2606:4700::1111', 'public'],
  ['mail.example.com', 'invalid'],
];

describe('the SSRF guard: address classifier', () => {
  it.each(TABLE)('%s is %s', (address, range) => {
    expect(classifyAddress(address).range).toBe(range);
    expect(privateAddressRefusal(address) === undefined).toBe(range === 'public');
  });

  it('the refusal names the address, its range and the way to allow it', () => {
    expect(privateAddressRefusal('169.254.169.254')).toBe(
      '169.254.169.254 is link-local, the cloud instance metadata address (169.254.169.254): not connecting to it from the monitor (set allowPrivateAddress on this server to allow it)',
    );
    expect(privateAddressRefusal('::ffff:10.0.0.1')).toMatch(
      /^::ffff:10\.0\.0\.1 is private \(RFC 1918, 10\.0\.0\.0\/8\), IPv4-mapped as ::ffff:10\.0\.0\.1: .*allowPrivateAddress/,
    );
  });

  it('covers every range, each with both IPv4 and IPv6 forms where the range has both', () => {
    const ranges: AddressRange[] = [
      'public',
      'unspecified',
      'this-network',
      'loopback',
      'private',
      'shared',
      'link-local',
      'unique-local',
      'site-local',
      'multicast',
      'reserved',
      'broadcast',
      'invalid',
    ];
    expect(ranges.filter((r) => !TABLE.some(([, range]) => range === r))).toEqual([]);
    for (const r of ['public', 'unspecified', 'loopback', 'link-local', 'multicast'] as const) {
      expect(
        TABLE.some(([a, range]) => range === r && a.includes(':')),
        `${r} over IPv6`,
      ).toBe(true);
      expect(
        TABLE.some(([a, range]) => range === r && !a.includes(':')),
        `${r} over IPv4`,
      ).toBe(true);
    }
  });
});
