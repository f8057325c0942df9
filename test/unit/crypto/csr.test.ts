import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identifier } from '../../../src/acme/types.js';
import { LocalError } from '../../../src/errors.js';
import { createCsr, parseCsr } from '../../../src/crypto/csr.js';
import { generateKey, publicKeysEqual, type KeyType } from '../../../src/crypto/keys.js';
import { makeTempDir, openssl, type TempDir } from './openssl.js';

const IDENTIFIERS: Identifier[] = [
  { type: 'dns', value: 'example.com' },
  { type: 'dns', value: '*.example.com' },
  { type: 'ip', value: '192.0.2.1' },
  { type: 'ip', value: '2001:DB8:0:0::1' },
];

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir('csr');
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

describe('createCsr', () => {
  it.each([
    ['ec256', 'ecdsa-with-SHA256'],
    ['ec384', 'ecdsa-with-SHA384'],
    ['rsa2048', 'sha256WithRSAEncryption'],
  ] as [KeyType, string][])(
    'builds a %s CSR openssl verifies, signed with %s',
    async (type, signatureAlgorithm) => {
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
    const { pem } = await createCsr(key, [
      { type: 'dns', value: long },
      { type: 'dns', value: 'short.example.com' },
    ]);
    const text = opensslText(pem, 'long.csr');
    expect(text).not.toContain('CN');
    expect(text).toMatch(/Subject:\s*\n/);
    expect(text).toMatch(/Subject Alternative Name: critical/);
    expect(text).toContain(`DNS:${long}, DNS:short.example.com`);
    expect((await parseCsr(pem, 'long.csr')).identifiers.map((i) => i.value)).toEqual([
      long,
      'short.example.com',
    ]);
  });

  it('keeps a 64-character first name as the CN', async () => {
    const name = `${'a'.repeat(52)}.example.com`;
    expect(name).toHaveLength(64);
    const { pem } = await createCsr(await generateKey('ec256'), [{ type: 'dns', value: name }]);
    expect(opensslText(pem, 'cn64.csr')).toContain(`CN = ${name}`);
  });

  it('has no CN for IP-only requests', async () => {
    const key = await generateKey('ec256');
    const { pem } = await createCsr(key, [{ type: 'ip', value: '::1' }]);
    const text = opensslText(pem, 'ip.csr');
    expect(text).not.toContain('CN');
    expect(text).toContain('IP Address:0:0:0:0:0:0:0:1');
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
    run('req', '-new', '-key', 'user.key', '-subj', '/O=Example/CN=Main.Example.com', '-addext', 'subjectAltName=DNS:alt.example.com,DNS:main.example.com,IP:2001:db8:0:0:0:0:0:2', '-out', 'cn-and-san.csr');
    run('req', '-new', '-key', 'user.key', '-subj', '/CN=only-cn.example.com', '-out', 'cn-only.csr');
    run('req', '-new', '-key', 'user.key', '-subj', '/CN=user.example.com', '-addext', 'subjectAltName=DNS:user.example.com,email:someone@example.com', '-out', 'email.csr');
    run('req', '-new', '-key', 'user.key', '-subj', '/CN=Some Organisation Unit', '-out', 'free-text-cn.csr');
    run('req', '-in', 'cn-and-san.csr', '-outform', 'DER', '-out', 'cn-and-san.der');
    run('req', '-new', '-x509', '-key', 'user.key', '-subj', '/CN=example.com', '-days', '1', '-out', 'cert.pem');
    run('genrsa', '-out', 'rsa.key', '2048');
    run('req', '-new', '-key', 'rsa.key', '-sigopt', 'rsa_padding_mode:pss', '-sha384', '-subj', '/CN=pss.example.com', '-out', 'pss.csr');
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
    const { der } = await createCsr(await generateKey('ec256'), [
      { type: 'dns', value: 'example.com' },
    ]);
    const tampered = Buffer.from(der);
    const at = tampered.lastIndexOf(Buffer.from('example.com'));
    expect(at).toBeGreaterThan(0);
    tampered[at] = 'E'.charCodeAt(0);
    await expect(parseCsr(tampered, 'tampered.csr')).rejects.toThrow(
      'tampered.csr holds a certificate signing request whose signature does not verify',
    );
  });

  it('refuses a CSR whose signature was altered', async () => {
    const { der } = await createCsr(await generateKey('rsa2048'), [
      { type: 'dns', value: 'example.com' },
    ]);
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
