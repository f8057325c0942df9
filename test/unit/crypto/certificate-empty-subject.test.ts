/**
 * Let's Encrypt and Pebble issue leaves with an empty subject (the names are only in the SAN):
 * node:crypto reports such a subject as undefined, which parseCertificate must survive.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseCertificate } from '../../../src/crypto/certificate.js';
import { ariCertificateId } from '../../../src/acme/ari.js';
import { makeTempDir, openssl } from './openssl.js';

const dir = makeTempDir('empty-subject');
afterAll(() => dir.remove());

describe('a certificate with an empty subject', () => {
  it('parses, with its SANs, issuer CN, serial and key identifiers', () => {
    // openssl() throws when openssl fails.
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-subj',
        '/CN=Test Issuer',
        '-days',
        '2',
      ],
      dir.path,
    );
    openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'leaf.key',
        '-out',
        'leaf.csr',
        '-subj',
        '/',
      ],
      dir.path,
    );
    writeFileSync(
      dir.file('ext.cnf'),
      'subjectAltName=critical,DNS:Leaf.Example.test,IP:2001:db8::1\nauthorityKeyIdentifier=keyid\n',
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        'leaf.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-set_serial',
        '0x80aa',
        '-days',
        '1',
        '-extfile',
        'ext.cnf',
        '-out',
        'leaf.pem',
      ],
      dir.path,
    );
    const info = parseCertificate(readFileSync(dir.file('leaf.pem'), 'utf8'));
    expect(info.subject).toBe('');
    expect(info.issuerCommonName).toBe('Test Issuer');
    expect(info.identifiers).toEqual([
      { type: 'dns', value: 'leaf.example.test' },
      { type: 'ip', value: '2001:db8::1' },
    ]);
    expect(info.serialHex).toBe('0080aa');
    expect(info.authorityKeyIdentifier?.length).toBe(20);
    expect(ariCertificateId(info.pem)).toBe(`${info.authorityKeyIdentifier?.toString('base64url')}.AICq`);
  });
});
