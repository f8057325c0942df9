import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalError } from '../../../src/errors.js';
import {
  ChainVerificationError,
  PemChainError,
  certificateMatchesKey,
  parseCertificate,
  splitPemChain,
  verifyChain,
} from '../../../src/crypto/certificate.js';
import { loadPrivateKeyPem, publicKeysEqual } from '../../../src/crypto/keys.js';
import { makeTempDir, openssl, type TempDir } from './openssl.js';

let dir: TempDir;
const read = (name: string) => readFileSync(dir.file(name), 'utf8');
const run = (...args: string[]) => openssl(args, dir.path).stdout;

/** Root → intermediate → leaf, plus an impostor intermediate with the same name and another key. */
beforeAll(() => {
  dir = makeTempDir('certificate');
  writeFileSync(
    dir.file('ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' +
      'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
  );
  writeFileSync(
    dir.file('leaf.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
      'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' +
      'subjectAltName=DNS:Example.com,DNS:*.example.com,IP:192.0.2.1,IP:2001:db8:0:0:0:0:0:1,email:admin@example.com\n',
  );
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(
    'req',
    '-x509',
    '-new',
    ...ecKey,
    '-keyout',
    'root.key',
    '-out',
    'root.pem',
    '-subj',
    '/CN=Test Root',
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  );
  for (const name of ['int', 'impostor']) {
    run(
      'req',
      '-new',
      ...ecKey,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      '/C=US/O=Test CA/CN=Test Intermediate',
    );
  }
  run(
    'x509',
    '-req',
    '-in',
    'int.csr',
    '-CA',
    'root.pem',
    '-CAkey',
    'root.key',
    '-set_serial',
    '2',
    '-days',
    '20',
    '-extfile',
    'ca.ext',
    '-out',
    'int.pem',
  );
  run(
    'x509',
    '-req',
    '-in',
    'impostor.csr',
    '-CA',
    'root.pem',
    '-CAkey',
    'root.key',
    '-set_serial',
    '3',
    '-days',
    '20',
    '-extfile',
    'ca.ext',
    '-out',
    'impostor.pem',
  );
  run(
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=example.com',
  );
  run(
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'int.pem',
    '-CAkey',
    'int.key',
    '-set_serial',
    '0x80aabbccdd',
    '-days',
    '10',
    '-extfile',
    'leaf.ext',
    '-out',
    'leaf.pem',
  );
});
afterAll(() => dir.remove());

/** Hex of an extension openssl prints as "AB:CD:…" on the line after its title. */
function opensslKeyId(file: string, extension: string): string {
  const text = run('x509', '-in', file, '-noout', '-ext', extension);
  const match = /\n\s*(?:keyid:)?([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(text);
  if (match?.[1] === undefined) throw new Error(`no ${extension} in ${file}: ${text}`);
  return match[1].replace(/:/g, '').toLowerCase();
}

function derOf(file: string): Buffer {
  run('x509', '-in', file, '-outform', 'DER', '-out', `${file}.der`);
  return readFileSync(dir.file(`${file}.der`));
}

function opensslDate(file: string, which: 'startdate' | 'enddate'): Date {
  const text = run('x509', '-in', file, '-noout', `-${which}`);
  return new Date(text.slice(text.indexOf('=') + 1).trim());
}

describe('parseCertificate', () => {
  it('reads the fields of an openssl-issued leaf', () => {
    const info = parseCertificate(read('leaf.pem'));
    expect(info.identifiers).toEqual([
      { type: 'dns', value: 'example.com' },
      { type: 'dns', value: '*.example.com' },
      { type: 'ip', value: '192.0.2.1' },
      { type: 'ip', value: '2001:db8::1' },
    ]);
    // 0x80aabbccdd has its top bit set, so DER prepends a 00 sign byte; ARI needs it verbatim.
    expect(info.serialBytes).toEqual(Buffer.from('0080aabbccdd', 'hex'));
    expect(info.serialHex).toBe('0080aabbccdd');
    expect(run('x509', '-in', 'leaf.pem', '-noout', '-serial').trim()).toBe('serial=80AABBCCDD');
    expect(info.authorityKeyIdentifier?.toString('hex')).toBe(opensslKeyId('leaf.pem', 'authorityKeyIdentifier'));
    expect(info.authorityKeyIdentifier?.toString('hex')).toBe(opensslKeyId('int.pem', 'subjectKeyIdentifier'));
    expect(info.subjectKeyIdentifier?.toString('hex')).toBe(opensslKeyId('leaf.pem', 'subjectKeyIdentifier'));
    expect(info.notBefore).toEqual(opensslDate('leaf.pem', 'startdate'));
    expect(info.notAfter).toEqual(opensslDate('leaf.pem', 'enddate'));
    expect(info.notAfter.getTime() - info.notBefore.getTime()).toBe(10 * 24 * 3600 * 1000);
    expect(info.subject).toBe('CN=example.com');
    expect(info.issuer).toBe('C=US, O=Test CA, CN=Test Intermediate');
    expect(info.issuerCommonName).toBe('Test Intermediate');
    expect(info.isCA).toBe(false);
    expect(publicKeysEqual(info.publicKey, loadPrivateKeyPem(read('leaf.key'), 'leaf.key'))).toBe(true);
    expect(info.pem).toBe(read('leaf.pem'));
    expect(info.der).toEqual(derOf('leaf.pem'));
  });

  it('keeps short serials as they are and flags CA certificates', () => {
    const info = parseCertificate(read('int.pem'));
    expect(info.serialHex).toBe('02');
    expect(info.isCA).toBe(true);
    expect(info.issuerCommonName).toBe('Test Root');
    expect(info.subjectKeyIdentifier).toBeDefined();
  });

  it('parses the first certificate of a chain', () => {
    const info = parseCertificate(read('leaf.pem') + read('int.pem'));
    expect(info.subject).toBe('CN=example.com');
  });

  it('refuses text without a certificate', () => {
    expect(() => parseCertificate(read('leaf.key'))).toThrow(PemChainError);
  });
});

describe('certificateMatchesKey', () => {
  it('compares the certificate key with a private or public key', () => {
    const leafKey = loadPrivateKeyPem(read('leaf.key'), 'leaf.key');
    expect(certificateMatchesKey(read('leaf.pem'), leafKey)).toBe(true);
    expect(certificateMatchesKey(read('leaf.pem'), createPublicKey(leafKey))).toBe(true);
    expect(certificateMatchesKey(read('leaf.pem'), loadPrivateKeyPem(read('int.key'), 'x'))).toBe(false);
  });
});

describe('splitPemChain', () => {
  it('splits a CRLF chain with text between and around the blocks', () => {
    const text =
      'subject=CN=example.com\r\nissuer=CN=Test Intermediate\r\n' +
      read('leaf.pem').replace(/\n/g, '\r\n') +
      '\r\n\r\nsubject=C=US, O=Test CA, CN=Test Intermediate\r\n' +
      read('int.pem').replace(/\n/g, '\r\n') +
      read('leaf.key') +
      'trailing text';
    expect(splitPemChain(text, 'chain.pem')).toEqual([read('leaf.pem'), read('int.pem')]);
  });

  it('normalises line length and the trailing newline', () => {
    const der = derOf('int.pem');
    const oneLine = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----`;
    const [pem] = splitPemChain(oneLine, 'one-line.pem');
    expect(pem).toBe(read('int.pem'));
    expect(pem?.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
  });

  it.each([
    ['no certificate', () => 'hello', 'chain.pem holds no PEM certificate'],
    ['only a key', () => read('leaf.key'), 'chain.pem holds no PEM certificate'],
    [
      'bad base64 in the second block',
      () => read('leaf.pem') + read('int.pem').replace(/\n(.)/, '\n%$1'),
      'chain.pem: certificate 2 is not valid base64',
    ],
    [
      'base64 that is not a certificate',
      () => '-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQh\n-----END CERTIFICATE-----\n',
      'chain.pem: the certificate is not a valid X.509 certificate',
    ],
  ])('refuses %s', (_what, text, message) => {
    let thrown: unknown;
    try {
      splitPemChain(text(), 'chain.pem');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PemChainError);
    expect(thrown).toBeInstanceOf(LocalError);
    expect((thrown as PemChainError).message).toBe(message);
    expect((thrown as PemChainError).source).toBe('chain.pem');
  });
});

describe('verifyChain', () => {
  it('accepts a chain with or without the root', () => {
    expect(() => verifyChain([read('leaf.pem'), read('int.pem'), read('root.pem')])).not.toThrow();
    expect(() => verifyChain([read('leaf.pem'), read('int.pem')])).not.toThrow();
    expect(() => verifyChain([read('leaf.pem')])).not.toThrow();
  });

  function failure(chain: string[]): ChainVerificationError {
    try {
      verifyChain(chain);
    } catch (error) {
      if (error instanceof ChainVerificationError) return error;
      throw error;
    }
    throw new Error('verifyChain accepted the chain');
  }

  it('names the certificate that is not issued by the next one', () => {
    const error = failure([read('leaf.pem'), read('root.pem')]);
    expect(error.position).toBe(0);
    expect(error.message).toBe(
      'certificate 1 of the chain (CN=example.com) is not issued by certificate 2 (CN=Test Root)',
    );
  });

  it('detects a wrong order', () => {
    const error = failure([read('int.pem'), read('leaf.pem')]);
    expect(error.position).toBe(0);
  });

  it('detects an issuer with the right name but another key', () => {
    const error = failure([read('leaf.pem'), read('impostor.pem'), read('root.pem')]);
    expect(error.position).toBe(0);
    expect(error.message).toContain('(C=US, O=Test CA, CN=Test Intermediate)');
  });

  it('reports the position further down the chain', () => {
    const error = failure([read('leaf.pem'), read('int.pem'), read('leaf.pem')]);
    expect(error.position).toBe(1);
    expect(error.message).toMatch(/^certificate 2 of the chain/);
  });

  it('refuses an empty chain and an unreadable member', () => {
    expect(failure([]).message).toBe('the certificate chain is empty');
    const unreadable = failure([read('leaf.pem'), 'garbage']);
    expect(unreadable.position).toBe(1);
    expect(unreadable.message).toBe('certificate 2 of the chain is not a readable certificate');
  });
});
