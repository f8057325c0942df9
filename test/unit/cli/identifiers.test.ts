import { describe, expect, it } from 'vitest';
import { parseIdentifier, parseIdentifiers } from '../../../src/crypto/identifiers.js';
import { dryRunServer, requiredKeyType, resolveServer } from '../../../src/operations/servers.js';
import { UsageError } from '../../../src/errors.js';

describe('-d values', () => {
  it.each([
    ['Example.COM', { type: 'dns', value: 'example.com' }],
    ['example.com.', { type: 'dns', value: 'example.com' }],
    ['*.example.com', { type: 'dns', value: '*.example.com' }],
    ['bücher.example', { type: 'dns', value: 'xn--bcher-kva.example' }],
    ['*.Bücher.example', { type: 'dns', value: '*.xn--bcher-kva.example' }],
    ['192.0.2.1', { type: 'ip', value: '192.0.2.1' }],
    ['2001:DB8:0:0:0:0:0:1', { type: 'ip', value: '2001:db8::1' }],
    ['[::1]', { type: 'ip', value: '::1' }],
    ['localhost', { type: 'dns', value: 'localhost' }],
  ])('%s → %j', (input, expected) => {
    expect(parseIdentifier(input)).toEqual(expected);
  });

  it.each([
    ['', 'it is empty'],
    ['a..b', 'empty label'],
    ['.a.b', 'empty label'],
    ['a.b..', 'two dots'],
    ['-a.b', 'inner hyphens'],
    ['a_b.c', 'inner hyphens'],
    ['a b.c', 'white space'],
    ['*.*.a.b', 'only one wildcard'],
    ['a.*.b', 'whole first label'],
    ['*.192.0.2.1', 'cannot cover an IP'],
    ['1.2.3.999', 'last label is numeric'],
    [`${'a'.repeat(64)}.b`, 'longer than 63'],
    [`${'abcdefghi.'.repeat(26)}com`, 'at most 253'],
  ])('refuses %j (%s)', (input, message) => {
    expect(() => parseIdentifier(input)).toThrow(UsageError);
    expect(() => parseIdentifier(input)).toThrow(message);
  });

  it('splits commas, keeps order and drops duplicates', () => {
    expect(parseIdentifiers(['b.test,a.test', 'B.test', ' c.test '])).toEqual([
      { type: 'dns', value: 'b.test' },
      { type: 'dns', value: 'a.test' },
      { type: 'dns', value: 'c.test' },
    ]);
  });
});

describe('--server', () => {
  it('knows the short names and their staging twins', () => {
    expect(resolveServer('letsencrypt')).toBe('https://acme-v02.api.letsencrypt.org/directory');
    expect(resolveServer('GlobalSign')).toBe('https://emea.acme.atlas.globalsign.com/directory');
    expect(resolveServer('certigna-test')).toBe('https://acme-ov-test.certigna.com/directory');
    expect(dryRunServer(resolveServer('letsencrypt'))).toBe('https://acme-staging-v02.api.letsencrypt.org/directory');
    expect(dryRunServer('https://ca.internal/acme/directory')).toBe('https://ca.internal/acme/directory');
    expect(requiredKeyType(resolveServer('certigna'))).toBe('rsa3072');
    expect(requiredKeyType(resolveServer('letsencrypt'))).toBeUndefined();
  });

  it('takes any https URL, EJBCA alias shapes included, and refuses unknown names', () => {
    expect(resolveServer('https://ca.example:8443/ejbca/acme/alias1/directory')).toBe(
      'https://ca.example:8443/ejbca/acme/alias1/directory',
    );
    expect(resolveServer('https://ca.example:8442/ejbca/acme/directory?configurationId=alias1')).toBe(
      'https://ca.example:8442/ejbca/acme/directory?configurationId=alias1',
    );
    expect(() => resolveServer('letsencrpyt')).toThrow('unknown server name "letsencrpyt" for --server');
  });
});
