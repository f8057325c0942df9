import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identifier } from '../../../src/acme/types.js';
import { parseCertificate } from '../../../src/crypto/certificate.js';
import { keyTypeOf, loadPrivateKeyPem, publicKeysEqual } from '../../../src/crypto/keys.js';
import { OID_ACME_IDENTIFIER, createTlsAlpnCertificate, ipToReverseDnsName } from '../../../src/crypto/tls-alpn.js';
import { x509 } from '../../helpers/x509.js';
import { makeTempDir, openssl, type TempDir } from './openssl.js';

const KEY_AUTHORIZATION = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const DIGEST = createHash('sha256').update(KEY_AUTHORIZATION).digest();

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir('tls-alpn');
});
afterAll(() => dir.remove());

describe('createTlsAlpnCertificate', () => {
  it('carries the critical acmeIdentifier extension with SHA-256 of the key authorization', async () => {
    const { certificatePem, privateKeyPem } = await createTlsAlpnCertificate(
      { type: 'dns', value: 'www.example.org' },
      KEY_AUTHORIZATION,
    );
    const certificate = new x509.X509Certificate(certificatePem);
    const extension = certificate.getExtension(OID_ACME_IDENTIFIER);
    expect(extension?.critical).toBe(true);
    // DER OCTET STRING: tag 04, length 32, then the digest (RFC 8737 3).
    expect(Buffer.from(extension?.value ?? new ArrayBuffer(0))).toEqual(
      Buffer.concat([Buffer.from([0x04, 0x20]), DIGEST]),
    );

    // Cross-check with openssl's own parser.
    writeFileSync(dir.file('dns.pem'), certificatePem);
    const text = openssl(['x509', '-in', 'dns.pem', '-noout', '-text'], dir.path).stdout;
    expect(text).toContain('1.3.6.1.5.5.7.1.31: critical');
    expect(text).toMatch(/Subject Alternative Name: *\n\s*DNS:www\.example\.org\n/);
    const asn1 = openssl(['asn1parse', '-in', 'dns.pem'], dir.path).stdout.split('\n');
    const oid = asn1.findIndex((line) => line.endsWith(':1.3.6.1.5.5.7.1.31'));
    expect(oid).toBeGreaterThan(0);
    expect(asn1[oid + 1]).toMatch(/BOOLEAN +:255$/);
    expect(asn1[oid + 2]).toMatch(/OCTET STRING +\[HEX DUMP\]:(.*)$/);
    expect(asn1[oid + 2]?.split(':').at(-1)).toBe(`0420${DIGEST.toString('hex').toUpperCase()}`);

    const key = loadPrivateKeyPem(privateKeyPem, 'alpn.key');
    expect(keyTypeOf(key)).toBe('ec256');
    const info = parseCertificate(certificatePem);
    expect(publicKeysEqual(info.publicKey, key)).toBe(true);
    expect(info.identifiers).toEqual([{ type: 'dns', value: 'www.example.org' }]);
    expect(info.issuer).toBe(info.subject);
    expect(new X509Certificate(certificatePem).verify(info.publicKey)).toBe(true);
    const now = Date.now();
    expect(info.notBefore.getTime()).toBeLessThanOrEqual(now);
    expect(info.notAfter.getTime()).toBeGreaterThan(now);
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBeLessThanOrEqual(7 * 24 * 3600 * 1000);
  });

  it('names an IP identifier with an iPAddress SAN only', async () => {
    const { certificatePem } = await createTlsAlpnCertificate({ type: 'ip', value: '2001:DB8::1' }, KEY_AUTHORIZATION);
    writeFileSync(dir.file('ip.pem'), certificatePem);
    const text = openssl(['x509', '-in', 'ip.pem', '-noout', '-text'], dir.path).stdout;
    expect(text).toMatch(/Subject Alternative Name: *\n\s*IP Address:2001:DB8:0:0:0:0:0:1\n/);
    expect(text).not.toContain('DNS:');
    expect(parseCertificate(certificatePem).identifiers).toEqual([{ type: 'ip', value: '2001:db8::1' }]);
  });

  const longName = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.org`;
  it.each([
    [{ type: 'dns', value: 'www.example.org' }, 'DNS:www.example.org', { type: 'dns', value: 'www.example.org' }],
    [{ type: 'dns', value: longName }, `DNS:${longName}`, { type: 'dns', value: longName }],
    [{ type: 'ip', value: '192.0.2.44' }, 'IP Address:192.0.2.44', { type: 'ip', value: '192.0.2.44' }],
    [{ type: 'ip', value: '2001:db8::44' }, 'IP Address:2001:DB8:0:0:0:0:0:44', { type: 'ip', value: '2001:db8::44' }],
  ] as [Identifier, string, object][])(
    'for %o, writes a v3 certificate that @peculiar/x509 and openssl read and verify',
    async (identifier, opensslName, peculiarName) => {
      expect(longName).toHaveLength(253);
      const { certificatePem } = await createTlsAlpnCertificate(identifier, KEY_AUTHORIZATION);

      const certificate = new x509.X509Certificate(certificatePem);
      expect(await certificate.verify({ signatureOnly: true })).toBe(true);
      expect(certificate.subject).toBe('CN=ACME tls-alpn-01 challenge');
      expect(certificate.issuer).toBe(certificate.subject);
      expect(certificate.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
      // Positive (top bit clear) and 16 bytes: no sign byte needed, none lost.
      expect(certificate.serialNumber).toMatch(/^[4-7][0-9a-f]{31}$/);
      const san = certificate.getExtension('2.5.29.17');
      expect(san).toBeInstanceOf(x509.SubjectAlternativeNameExtension);
      expect(san?.critical).toBe(false);
      expect((san as x509.SubjectAlternativeNameExtension).names.toJSON()).toEqual([peculiarName]);
      expect(certificate.extensions.map((extension) => extension.type)).toEqual(['2.5.29.17', OID_ACME_IDENTIFIER]);

      const file = `${identifier.value.slice(0, 20).replace(/[:.]/g, '_')}.pem`;
      writeFileSync(dir.file(file), certificatePem);
      const text = openssl(['x509', '-in', file, '-noout', '-text'], dir.path).stdout;
      expect(text).toContain('Version: 3 (0x2)');
      expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
      expect(text).toContain('1.3.6.1.5.5.7.1.31: critical');
      const sanText = openssl(['x509', '-in', file, '-noout', '-ext', 'subjectAltName'], dir.path).stdout;
      expect(sanText).toBe(`X509v3 Subject Alternative Name: \n    ${opensslName}\n`);
      // The self-signature; the acmeIdentifier extension is one openssl does not know, and critical.
      const verified = openssl(['verify', '-CAfile', file, '-ignore_critical', file], dir.path).stdout;
      expect(verified).toBe(`${file}: OK\n`);
    },
  );

  it('draws a new serial number for every certificate', async () => {
    const identifier = { type: 'dns', value: 'example.org' } as const;
    const serials = await Promise.all(
      [1, 2, 3].map(
        async () =>
          parseCertificate((await createTlsAlpnCertificate(identifier, KEY_AUTHORIZATION)).certificatePem).serialHex,
      ),
    );
    expect(new Set(serials).size).toBe(3);
  });

  it('uses a fresh key for every certificate', async () => {
    const identifier = { type: 'dns', value: 'example.org' } as const;
    const [a, b] = await Promise.all([
      createTlsAlpnCertificate(identifier, KEY_AUTHORIZATION),
      createTlsAlpnCertificate(identifier, KEY_AUTHORIZATION),
    ]);
    expect(publicKeysEqual(createPrivateKey(a.privateKeyPem), createPrivateKey(b.privateKeyPem))).toBe(false);
  });

  it('refuses an IP identifier that is not an address', async () => {
    await expect(createTlsAlpnCertificate({ type: 'ip', value: 'example.org' }, KEY_AUTHORIZATION)).rejects.toThrow(
      '"example.org" is not an IP address',
    );
  });
});

describe('ipToReverseDnsName', () => {
  it.each([
    ['127.0.0.1', '1.0.0.127.in-addr.arpa'],
    ['192.0.2.10', '10.2.0.192.in-addr.arpa'],
    // RFC 3596 2.5 example, lowercased.
    ['4321:0:1:2:3:4:567:89ab', 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa'],
    ['::1', `1.${'0.'.repeat(31)}ip6.arpa`],
    ['::ffff:192.0.2.1', '1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa'],
  ])('maps %s to %s', (ip, name) => {
    expect(ipToReverseDnsName(ip)).toBe(name);
  });

  it('refuses a name', () => {
    expect(() => ipToReverseDnsName('example.org')).toThrow('not an IP address');
  });
});
