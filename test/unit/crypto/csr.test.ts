import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identifier } from '../../../src/acme/types.js';
import { LocalError } from '../../../src/errors.js';
import { createCsr, parseCsr } from '../../../src/crypto/csr.js';
import {
  derChildren,
  derElementBytes,
  derNull,
  derOid,
  derSequence,
  readDerDocument,
} from '../../../src/crypto/der.js';
import { generateKey, publicKeysEqual, type KeyType } from '../../../src/crypto/keys.js';
import { signingKeysFor, x509 } from '../../helpers/x509.js';
import { makeTempDir, openssl, type TempDir } from './openssl.js';

const IDENTIFIERS: Identifier[] = [
  { type: 'dns', value: 'example.com' },
  { type: 'dns', value: '*.example.com' },
  { type: 'ip', value: '192.0.2.1' },
  { type: 'ip', value: '2001:DB8:0:0::1' },
];

let dir: TempDir;
let rsaKey: KeyObject;
beforeAll(async () => {
  dir = makeTempDir('csr');
  rsaKey = await generateKey('rsa2048');
});
afterAll(() => dir.remove());

/** `openssl req -text -verify` on the PEM: throws unless the self-signature verifies. */
function opensslText(pem: string, name: string): string {
  writeFileSync(dir.file(name), pem);
  const result = openssl(['req', '-in', name, '-noout', '-text', '-verify'], dir.path);
  const output = result.stdout + result.stderr;
  expect(output).toMatch(/verify OK/);
  return output;
}

/** @peculiar/x509 as a second, independent reader: checks the signature and reads the fields back. */
async function peculiarView(der: Buffer): Promise<{
  subject: string;
  algorithm: unknown;
  names: unknown;
  sanCritical: boolean | undefined;
  publicKey: KeyObject;
}> {
  const request = new x509.Pkcs10CertificateRequest(der);
  expect(await request.verify()).toBe(true);
  const san = request.getExtension('2.5.29.17');
  expect(san).toBeInstanceOf(x509.SubjectAlternativeNameExtension);
  return {
    subject: request.subject,
    algorithm: request.signatureAlgorithm,
    names: (san as x509.SubjectAlternativeNameExtension).names.toJSON(),
    sanCritical: san?.critical,
    publicKey: createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' }),
  };
}

describe('createCsr', () => {
  it.each([
    ['ec256', 'ecdsa-with-SHA256', { name: 'ECDSA', hash: { name: 'SHA-256' } }],
    ['ec384', 'ecdsa-with-SHA384', { name: 'ECDSA', hash: { name: 'SHA-384' } }],
    ['rsa2048', 'sha256WithRSAEncryption', { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } }],
    ['rsa3072', 'sha256WithRSAEncryption', { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } }],
    ['rsa4096', 'sha256WithRSAEncryption', { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } }],
  ] as [KeyType, string, object][])(
    'builds a %s CSR that openssl and @peculiar/x509 verify, signed with %s',
    async (type, signatureAlgorithm, webCryptoAlgorithm) => {
      const key = await generateKey(type);
      const { der, pem } = await createCsr(key, IDENTIFIERS);
      expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/);
      const text = opensslText(pem, `${type}.csr`);
      expect(text).toContain(`Signature Algorithm: ${signatureAlgorithm}`);
      expect(text).toMatch(/Subject: CN\s?=\s?example\.com\n/);
      expect(text).toContain(
        'DNS:example.com, DNS:*.example.com, IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1\n',
      );
      // The subject is not empty, so the SAN extension needs no criticality.
      expect(text).not.toMatch(/Subject Alternative Name: critical/);

      const peculiar = await peculiarView(der);
      expect(peculiar.subject).toBe('CN=example.com');
      expect(peculiar.algorithm).toMatchObject(webCryptoAlgorithm);
      expect(peculiar.sanCritical).toBe(false);
      expect(peculiar.names).toEqual([
        { type: 'dns', value: 'example.com' },
        { type: 'dns', value: '*.example.com' },
        { type: 'ip', value: '192.0.2.1' },
        { type: 'ip', value: '2001:db8::1' },
      ]);
      expect(publicKeysEqual(peculiar.publicKey, key)).toBe(true);

      const parsed = await parseCsr(pem, 'request.csr');
      expect(parsed.der).toEqual(der);
      expect(publicKeysEqual(parsed.publicKey, key)).toBe(true);
      expect(parsed.identifiers).toEqual([
        { type: 'dns', value: 'example.com' },
        { type: 'dns', value: '*.example.com' },
        { type: 'ip', value: '192.0.2.1' },
        { type: 'ip', value: '2001:db8::1' },
      ]);
    },
  );

  // RSA PKCS#1 v1.5 signatures are deterministic, so the whole request can be compared with the
  // one @peculiar/x509 (acmecli's CSR writer before its own DER layer) builds from the same input.
  it.each([
    ['DNS and IP names', IDENTIFIERS],
    ['a first name too long for the CN', [{ type: 'dns', value: `${'a'.repeat(63)}.${'b'.repeat(63)}.example.com` }]],
    ['an IP address only', [{ type: 'ip', value: '2001:db8::7' }]],
  ] as [string, Identifier[]][])(
    'writes byte for byte what @peculiar/x509 writes, for %s',
    async (_what, identifiers) => {
      const key = rsaKey;
      const ours = (await createCsr(key, identifiers)).der;
      const commonName = identifiers.find((identifier) => identifier.type === 'dns')?.value;
      const withCommonName = commonName !== undefined && commonName.length <= 64;
      const { keys, signingAlgorithm } = signingKeysFor(key);
      const theirs = await x509.Pkcs10CertificateRequestGenerator.create({
        ...(withCommonName ? { name: new x509.Name([{ CN: [{ utf8String: commonName }] }]) } : {}),
        keys,
        signingAlgorithm,
        extensions: [new x509.SubjectAlternativeNameExtension(identifiers, !withCommonName)],
      });
      expect(ours.toString('hex')).toBe(Buffer.from(theirs.rawData).toString('hex'));
    },
  );

  it('writes long-form lengths that openssl and @peculiar/x509 read: 100 names of 200+ characters', async () => {
    const label = 'x'.repeat(63);
    const identifiers: Identifier[] = Array.from({ length: 100 }, (_, index) => ({
      type: 'dns',
      value: `n${index}.${label}.${label}.${label}.example.com`,
    }));
    expect(identifiers[0]!.value.length).toBeGreaterThan(200);
    const key = await generateKey('ec384');
    const { der, pem } = await createCsr(key, identifiers);
    expect(der.length).toBeGreaterThan(20_000);
    const text = opensslText(pem, 'many.csr');
    expect(text).toMatch(/Subject Alternative Name: critical/);
    for (const { value } of identifiers) expect(text).toContain(`DNS:${value}`);
    const peculiar = await peculiarView(der);
    expect(peculiar.subject).toBe('');
    expect(peculiar.sanCritical).toBe(true);
    expect(peculiar.names).toEqual(identifiers);
    expect((await parseCsr(der, 'many.csr')).identifiers).toEqual(identifiers);
  });

  it('puts a wildcard first name in the CN (UTF8String, as * is not printable)', async () => {
    const key = await generateKey('ec256');
    const { pem } = await createCsr(key, [{ type: 'dns', value: '*.example.org' }]);
    writeFileSync(dir.file('wildcard.csr'), pem);
    const parsed = openssl(['asn1parse', '-in', 'wildcard.csr'], dir.path).stdout;
    expect(parsed).toMatch(/UTF8STRING\s+:\*\.example\.org/);
  });

  it('omits the CN when the first DNS name exceeds 64 characters, and makes the SAN critical', async () => {
    const long = `${'a'.repeat(60)}.example.com`;
    const key = await generateKey('ec256');
    const { der, pem } = await createCsr(key, [
      { type: 'dns', value: long },
      { type: 'dns', value: 'short.example.com' },
    ]);
    const text = opensslText(pem, 'long.csr');
    expect(text).not.toContain('CN');
    expect(text).toMatch(/Subject:\s*\n/);
    expect(text).toMatch(/Subject Alternative Name: critical/);
    expect(text).toContain(`DNS:${long}, DNS:short.example.com`);
    const peculiar = await peculiarView(der);
    expect(peculiar.subject).toBe('');
    expect(peculiar.sanCritical).toBe(true);
    expect(peculiar.names).toEqual([
      { type: 'dns', value: long },
      { type: 'dns', value: 'short.example.com' },
    ]);
    expect((await parseCsr(pem, 'long.csr')).identifiers.map((i) => i.value)).toEqual([long, 'short.example.com']);
  });

  it('keeps a 64-character first name as the CN', async () => {
    const name = `${'a'.repeat(52)}.example.com`;
    expect(name).toHaveLength(64);
    const { pem } = await createCsr(await generateKey('ec256'), [{ type: 'dns', value: name }]);
    expect(opensslText(pem, 'cn64.csr')).toContain(`CN = ${name}`);
  });

  it('has no CN for IP-only requests', async () => {
    const key = await generateKey('ec256');
    const { der, pem } = await createCsr(key, [{ type: 'ip', value: '::1' }]);
    const text = opensslText(pem, 'ip.csr');
    expect(text).not.toContain('CN');
    expect(text).toContain('IP Address:0:0:0:0:0:0:0:1');
    expect((await peculiarView(der)).names).toEqual([{ type: 'ip', value: '::1' }]);
    expect((await parseCsr(pem, 'ip.csr')).identifiers).toEqual([{ type: 'ip', value: '::1' }]);
  });

  it('takes the CN from the first DNS identifier even after an IP', async () => {
    const { pem } = await createCsr(await generateKey('ec256'), [
      { type: 'ip', value: '192.0.2.7' },
      { type: 'dns', value: 'www.example.net' },
    ]);
    expect(opensslText(pem, 'ip-first.csr')).toContain('CN = www.example.net');
  });

  it('refuses an invalid IP identifier and an empty list', async () => {
    const key = await generateKey('ec256');
    await expect(createCsr(key, [{ type: 'ip', value: '192.0.2.300' }])).rejects.toThrow(
      '"192.0.2.300" is not an IP address',
    );
    await expect(createCsr(key, [])).rejects.toThrow('at least one identifier');
  });
});

describe('parseCsr', () => {
  beforeAll(() => {
    const run = (...args: string[]) => openssl(args, dir.path);
    run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'user.key');
    run(
      'req',
      '-new',
      '-key',
      'user.key',
      '-subj',
      '/O=Example/CN=Main.Example.com',
      '-addext',
      'subjectAltName=DNS:alt.example.com,DNS:main.example.com,IP:2001:db8:0:0:0:0:0:2',
      '-out',
      'cn-and-san.csr',
    );
    run('req', '-new', '-key', 'user.key', '-subj', '/CN=only-cn.example.com', '-out', 'cn-only.csr');
    run(
      'req',
      '-new',
      '-key',
      'user.key',
      '-subj',
      '/CN=user.example.com',
      '-addext',
      'subjectAltName=DNS:user.example.com,email:someone@example.com',
      '-out',
      'email.csr',
    );
    run('req', '-new', '-key', 'user.key', '-subj', '/CN=Some Organisation Unit', '-out', 'free-text-cn.csr');
    run('req', '-in', 'cn-and-san.csr', '-outform', 'DER', '-out', 'cn-and-san.der');
    run('req', '-new', '-x509', '-key', 'user.key', '-subj', '/CN=example.com', '-days', '1', '-out', 'cert.pem');
    run('genrsa', '-out', 'rsa.key', '2048');
    run(
      'req',
      '-new',
      '-key',
      'rsa.key',
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sha384',
      '-subj',
      '/CN=pss.example.com',
      '-out',
      'pss.csr',
    );
    const sans = ['-addext', 'subjectAltName=DNS:www.example.org,IP:192.0.2.9,DNS:example.org'];
    const ecKey = (name: string, curve: string) =>
      run('genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', name);
    ecKey('p384.key', 'P-384');
    ecKey('p521.key', 'P-521');
    ecKey('k256.key', 'secp256k1');
    run('genpkey', '-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa-pss.key');
    run('genpkey', '-algorithm', 'ed25519', '-out', 'ed25519.key');
    const request = (key: string, out: string, ...options: string[]) =>
      run('req', '-new', '-key', key, '-subj', '/CN=example.org', ...sans, ...options, '-out', out);
    request('rsa.key', 'openssl-rsa-sha256.csr', '-sha256');
    request('rsa.key', 'openssl-rsa-sha384.csr', '-sha384');
    request('rsa.key', 'openssl-rsa-sha512.csr', '-sha512');
    request('user.key', 'openssl-p256-sha256.csr', '-sha256');
    request('p384.key', 'openssl-p384-sha384.csr', '-sha384');
    request('p384.key', 'openssl-p384-sha256.csr', '-sha256');
    request('p521.key', 'openssl-p521-sha512.csr', '-sha512');
    request('rsa-pss.key', 'openssl-rsa-pss-key.csr');
    request(
      'rsa.key',
      'pss-mgf1-sha1.csr',
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      'rsa_mgf1_md:sha1',
      '-sha256',
    );
    request('rsa.key', 'sha1.csr', '-sha1');
    request('k256.key', 'k256.csr', '-sha256');
    request('ed25519.key', 'ed25519.csr');
    const refused = (name: string, san: string) =>
      run(
        'req',
        '-new',
        '-key',
        'user.key',
        '-subj',
        '/CN=example.org',
        '-addext',
        `subjectAltName=DNS:example.org,${san}`,
        '-out',
        name,
      );
    refused('uri.csr', 'URI:https://example.org/');
    refused('other-name.csr', 'otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@example.org');
    refused('registered-id.csr', 'RID:1.2.3.4');
  });
  const read = (name: string) => readFileSync(dir.file(name), 'utf8');

  it('adds the CN when it is missing from the SANs, first and lowercased', async () => {
    const parsed = await parseCsr(read('cn-and-san.csr'), 'cn-and-san.csr');
    expect(parsed.identifiers).toEqual([
      { type: 'dns', value: 'main.example.com' },
      { type: 'dns', value: 'alt.example.com' },
      { type: 'ip', value: '2001:db8::2' },
    ]);
    expect(publicKeysEqual(parsed.publicKey, (await parseCsr(read('cn-only.csr'), 'x')).publicKey)).toBe(true);
  });

  it('reads DER, PEM text and PEM bytes alike', async () => {
    const der = readFileSync(dir.file('cn-and-san.der'));
    const fromDer = await parseCsr(der, 'cn-and-san.der');
    const fromPemBytes = await parseCsr(readFileSync(dir.file('cn-and-san.csr')), 'cn-and-san.csr');
    const fromCrlfText = await parseCsr(`intro\r\n${read('cn-and-san.csr').replace(/\n/g, '\r\n')}`, 'x');
    expect(fromDer.der).toEqual(der);
    for (const parsed of [fromPemBytes, fromCrlfText]) {
      expect(parsed.der).toEqual(der);
      expect(parsed.identifiers).toEqual(fromDer.identifiers);
    }
  });

  it('uses the CN of a CSR without SANs', async () => {
    expect((await parseCsr(read('cn-only.csr'), 'x')).identifiers).toEqual([
      { type: 'dns', value: 'only-cn.example.com' },
    ]);
  });

  it('verifies RSA-PSS signatures', async () => {
    expect((await parseCsr(read('pss.csr'), 'pss.csr')).identifiers).toEqual([
      { type: 'dns', value: 'pss.example.com' },
    ]);
  });

  it.each([
    ['openssl-rsa-sha256.csr', 'rsa.key'],
    ['openssl-rsa-sha384.csr', 'rsa.key'],
    ['openssl-rsa-sha512.csr', 'rsa.key'],
    ['openssl-p256-sha256.csr', 'user.key'],
    ['openssl-p384-sha384.csr', 'p384.key'],
    ['openssl-p384-sha256.csr', 'p384.key'],
    ['openssl-p521-sha512.csr', 'p521.key'],
    ['openssl-rsa-pss-key.csr', 'rsa-pss.key'],
  ])('reads %s from openssl req -new, and refuses it once its signature is corrupted', async (name, keyFile) => {
    const parsed = await parseCsr(read(name), name);
    expect(parsed.identifiers).toEqual([
      { type: 'dns', value: 'example.org' },
      { type: 'dns', value: 'www.example.org' },
      { type: 'ip', value: '192.0.2.9' },
    ]);
    expect(publicKeysEqual(parsed.publicKey, createPublicKey(read(keyFile)))).toBe(true);

    // The last byte belongs to the signature's value whatever the algorithm (for ECDSA, to s).
    const corrupted = Buffer.from(parsed.der);
    corrupted[corrupted.length - 1] = (corrupted[corrupted.length - 1] ?? 0) ^ 0x01;
    await expect(parseCsr(corrupted, name)).rejects.toThrow(
      `${name} holds a certificate signing request whose signature does not verify`,
    );
  });

  it('reads a CSR written by @peculiar/x509', async () => {
    const key = await generateKey('ec256');
    const { keys, signingAlgorithm } = signingKeysFor(key);
    const request = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=peculiar.example.net',
      keys,
      signingAlgorithm,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '2001:db8::9' }])],
    });
    const parsed = await parseCsr(Buffer.from(request.rawData), 'peculiar.der');
    expect(parsed.identifiers).toEqual([
      { type: 'dns', value: 'peculiar.example.net' },
      { type: 'ip', value: '2001:db8::9' },
    ]);
    expect(publicKeysEqual(parsed.publicKey, key)).toBe(true);
  });

  it.each([
    ['sha1.csr', 'sha1.csr is signed with an unsupported algorithm (sha1WithRSAEncryption)'],
    ['ed25519.csr', 'ed25519.csr is signed with an unsupported algorithm (Ed25519)'],
    [
      'pss-mgf1-sha1.csr',
      'pss-mgf1-sha1.csr is signed with an unsupported algorithm (RSASSA-PSS with SHA-256 and MGF1 with SHA-1)',
    ],
    ['k256.csr', 'k256.csr holds an EC key on an unsupported curve (secp256k1)'],
    ['uri.csr', 'uri.csr requests a URI name ("https://example.org/"), which ACME cannot validate'],
    [
      'other-name.csr',
      'other-name.csr requests an otherName name (1.3.6.1.4.1.311.20.2.3), which ACME cannot validate',
    ],
    ['registered-id.csr', 'registered-id.csr requests a registered ID name (1.2.3.4), which ACME cannot validate'],
  ])('refuses %s with one line saying why', async (name, message) => {
    let thrown: unknown;
    try {
      await parseCsr(read(name), name);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LocalError);
    expect((thrown as Error).message).toBe(message);
  });

  it('refuses a signature algorithm that does not fit the key', async () => {
    const { der } = await createCsr(await generateKey('ec256'), [{ type: 'dns', value: 'example.com' }]);
    const [info, , signature] = derChildren(der, readDerDocument(der));
    const relabelled = derSequence(
      derElementBytes(der, info!),
      derSequence(derOid('1.2.840.113549.1.1.11'), derNull()),
      derElementBytes(der, signature!),
    );
    await expect(parseCsr(relabelled, 'relabelled.csr')).rejects.toThrow(
      'relabelled.csr is signed with sha256WithRSAEncryption, which does not fit its ec public key',
    );
  });

  it('refuses a DER request followed by other bytes', async () => {
    const { der } = await createCsr(await generateKey('ec256'), [{ type: 'dns', value: 'example.com' }]);
    await expect(parseCsr(Buffer.concat([der, Buffer.from([0])]), 'trailing.der')).rejects.toThrow(
      'trailing.der holds an unreadable certificate signing request',
    );
  });

  it('refuses names ACME cannot validate', async () => {
    await expect(parseCsr(read('email.csr'), 'email.csr')).rejects.toThrow(
      'email.csr requests an email name ("someone@example.com"), which ACME cannot validate',
    );
  });

  it('refuses a CSR with no DNS name or IP address', async () => {
    await expect(parseCsr(read('free-text-cn.csr'), 'free.csr')).rejects.toThrow(
      'free.csr requests no DNS name or IP address',
    );
  });

  it('refuses a CSR whose signed content was altered', async () => {
    const { der } = await createCsr(await generateKey('ec256'), [{ type: 'dns', value: 'example.com' }]);
    const tampered = Buffer.from(der);
    const at = tampered.lastIndexOf(Buffer.from('example.com'));
    expect(at).toBeGreaterThan(0);
    tampered[at] = 'E'.charCodeAt(0);
    await expect(parseCsr(tampered, 'tampered.csr')).rejects.toThrow(
      'tampered.csr holds a certificate signing request whose signature does not verify',
    );
  });

  it('refuses a CSR whose signature was altered', async () => {
    const { der } = await createCsr(await generateKey('rsa2048'), [{ type: 'dns', value: 'example.com' }]);
    const tampered = Buffer.from(der);
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] ?? 0) ^ 0xff;
    await expect(parseCsr(tampered, 'sig.csr')).rejects.toThrow('signature does not verify');
  });

  it.each([
    ['garbage text', 'not a csr at all', 'x.csr does not hold a certificate signing request (PEM or DER)'],
    ['a certificate', 'cert.pem', 'x.csr holds a certificate, not a certificate signing request'],
    ['a private key', 'user.key', 'x.csr holds a private key, not a certificate signing request'],
    ['damaged base64', 'bad-base64', 'x.csr holds an unreadable certificate signing request (bad base64)'],
    ['DER garbage', 'der-garbage', 'x.csr holds an unreadable certificate signing request'],
  ])('refuses %s with a LocalError naming the source', async (_what, input, message) => {
    let value: string | Buffer = input;
    if (input === 'cert.pem' || input === 'user.key') value = read(input);
    if (input === 'bad-base64') value = read('cn-only.csr').replace(/\n(.)/, '\n*$1');
    if (input === 'der-garbage') value = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]);
    let thrown: unknown;
    try {
      await parseCsr(value, 'x.csr');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LocalError);
    expect((thrown as Error).message).toBe(message);
  });
});
