import { describe, expect, it } from 'vitest';
import { canonicalIp, ipFromBytes, ipToBytes } from '../../../src/crypto/ip-address.js';

describe('canonicalIp', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ])('writes %s as %s', (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical);
  });

  it.each(['example.com', '192.0.2.256', '01.2.3.4', '1.2.3', 'fe80::1%eth0', '[::1]', ''])('refuses %j', (text) => {
    expect(canonicalIp(text)).toBeUndefined();
  });
});

describe('ipToBytes and ipFromBytes', () => {
  it.each([
    ['192.0.2.1', 'c0000201'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::567:89ab', '20010db80000000000000000056789ab'],
    ['1::', '00010000000000000000000000000000'],
  ])('round-trips %s', (text, hex) => {
    expect(ipToBytes(text).toString('hex')).toBe(hex);
    expect(ipFromBytes(Buffer.from(hex, 'hex'))).toBe(text);
  });

  it('refuses other lengths and non-addresses', () => {
    expect(ipFromBytes(Buffer.alloc(8))).toBeUndefined();
    expect(() => ipToBytes('example.com')).toThrow('"example.com" is not an IP address');
  });
});
