import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalError, UsageError } from '../../../src/errors.js';
import {
  KEY_TYPES,
  exportPrivateKeyPem,
  generateKey,
  jwsAlgorithmFor,
  keyTypeOf,
  loadPrivateKeyPem,
  parseKeyType,
  publicKeysEqual,
  type KeyType,
} from '../../../src/crypto/keys.js';
import { makeTempDir, openssl, type TempDir } from './openssl.js';

describe('parseKeyType', () => {
  it.each([
    ['ec256', 'ec256'],
    ['EC256', 'ec256'],
    ['ec-256', 'ec256'],
    ['p256', 'ec256'],
    ['P-256', 'ec256'],
    ['ecdsa', 'ec256'],
    ['ec-p256', 'ec256'],
    ['secp256r1', 'ec256'],
    ['ec384', 'ec384'],
    ['EC-384', 'ec384'],
    ['p384', 'ec384'],
    ['secp384r1', 'ec384'],
    ['rsa', 'rsa2048'],
    ['RSA', 'rsa2048'],
    ['rsa2048', 'rsa2048'],
    ['rsa-2048', 'rsa2048'],
    ['2048', 'rsa2048'],
    ['RSA3072', 'rsa3072'],
    ['3072', 'rsa3072'],
    ['rsa4096', 'rsa4096'],
    [' 4096 ', 'rsa4096'],
  ])('reads %j as %s', (text, expected) => {
    expect(parseKeyType(text, '--key-type')).toBe(expected);
  });

  it.each(['ec521', 'ec-521', 'rsa1024', '1024', 'ed25519', '', 'toString', 'constructor'])(
    'refuses %j naming the flag',
    (text) => {
      const attempt = () => parseKeyType(text, '--key-type');
      expect(attempt).toThrow(UsageError);
      expect(attempt).toThrow(
        `invalid key type "${text}" for --key-type: use ec256, ec384, rsa2048, rsa3072 or rsa4096`,
      );
    },
  );
});

describe('generateKey', () => {
  const expectations: Record<KeyType, { alg: string; curve?: string; bits?: number }> = {
    ec256: { alg: 'ES256', curve: 'prime256v1' },
    ec384: { alg: 'ES384', curve: 'secp384r1' },
    rsa2048: { alg: 'RS256', bits: 2048 },
    rsa3072: { alg: 'RS256', bits: 3072 },
    rsa4096: { alg: 'RS256', bits: 4096 },
  };

  it('covers every key type', () => {
    expect([...KEY_TYPES].sort()).toEqual(Object.keys(expectations).sort());
  });

  it.each(KEY_TYPES)('generates %s and round-trips it through PKCS#8 PEM', async (type) => {
    const key = await generateKey(type);
    const expected = expectations[type];
    expect(key.type).toBe('private');
    expect(keyTypeOf(key)).toBe(type);
    expect(keyTypeOf(createPublicKey(key))).toBe(type);
    expect(jwsAlgorithmFor(key)).toBe(expected.alg);
    if (expected.curve !== undefined) {
      expect(key.asymmetricKeyDetails?.namedCurve).toBe(expected.curve);
    } else {
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(expected.bits);
      expect(key.asymmetricKeyDetails?.publicExponent).toBe(65537n);
    }

    const pem = exportPrivateKeyPem(key);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    const loaded = loadPrivateKeyPem(pem, 'key.pem');
    expect(publicKeysEqual(loaded, key)).toBe(true);
    expect(loaded.export({ type: 'pkcs8', format: 'der' })).toEqual(key.export({ type: 'pkcs8', format: 'der' }));
  });

  it('generates distinct keys', async () => {
    const [a, b] = await Promise.all([generateKey('ec256'), generateKey('ec256')]);
    expect(publicKeysEqual(a, b)).toBe(false);
  });
});

describe('exportPrivateKeyPem', () => {
  it('refuses a public key', async () => {
    const key = await generateKey('ec256');
    expect(() => exportPrivateKeyPem(createPublicKey(key))).toThrow('needs a private key');
  });
});

describe('publicKeysEqual', () => {
  it('compares private and public halves by SPKI', async () => {
    const [a, b] = await Promise.all([generateKey('ec256'), generateKey('ec384')]);
    expect(publicKeysEqual(a, createPublicKey(a))).toBe(true);
    expect(publicKeysEqual(createPublicKey(a), a)).toBe(true);
    expect(publicKeysEqual(a, b)).toBe(false);
  });
});

describe('loadPrivateKeyPem', () => {
  let dir: TempDir;
  const read = (name: string) => readFileSync(dir.file(name), 'utf8');
  const run = (...args: string[]) => openssl(args, dir.path);

  beforeAll(() => {
    dir = makeTempDir('keys');
    run('genrsa', '-traditional', '-out', 'rsa-pkcs1.pem', '2048');
    run('pkey', '-in', 'rsa-pkcs1.pem', '-out', 'rsa-pkcs8.pem');
    run('ecparam', '-name', 'prime256v1', '-genkey', '-out', 'ec-with-params.pem');
    run('ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', 'ec384-sec1.pem');
    run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec-pkcs8.pem');
    run('pkey', '-in', 'ec-pkcs8.pem', '-pubout', '-out', 'ec-public.pem');
    run('rsa', '-in', 'rsa-pkcs1.pem', '-RSAPublicKey_out', '-out', 'rsa-public-pkcs1.pem');
    run(
      'pkcs8',
      '-topk8',
      '-in',
      'ec-pkcs8.pem',
      '-v2',
      'aes-256-cbc',
      '-passout',
      'pass:secret',
      '-out',
      'encrypted-pkcs8.pem',
    );
    run(
      'rsa',
      '-in',
      'rsa-pkcs1.pem',
      '-traditional',
      '-aes256',
      '-passout',
      'pass:secret',
      '-out',
      'encrypted-pkcs1.pem',
    );
    run('genpkey', '-algorithm', 'ED25519', '-out', 'ed25519.pem');
    run('genrsa', '-traditional', '-out', 'rsa1024.pem', '1024');
    run('ecparam', '-name', 'secp521r1', '-genkey', '-noout', '-out', 'p521.pem');
    run('ecparam', '-name', 'secp256k1', '-genkey', '-noout', '-out', 'secp256k1.pem');
    run('genrsa', '-out', 'rsa2304.pem', '2304');
    run('req', '-new', '-x509', '-key', 'ec-pkcs8.pem', '-subj', '/CN=example.com', '-days', '1', '-out', 'cert.pem');
    run('req', '-new', '-key', 'ec-pkcs8.pem', '-subj', '/CN=example.com', '-out', 'csr.pem');
  });
  afterAll(() => dir.remove());

  it('loads PKCS#1 RSA keys', () => {
    const key = loadPrivateKeyPem(read('rsa-pkcs1.pem'), 'rsa-pkcs1.pem');
    expect(read('rsa-pkcs1.pem')).toContain('BEGIN RSA PRIVATE KEY');
    expect(keyTypeOf(key)).toBe('rsa2048');
    expect(publicKeysEqual(key, loadPrivateKeyPem(read('rsa-pkcs8.pem'), 'rsa-pkcs8.pem'))).toBe(true);
  });

  it('loads SEC1 EC keys, including after an EC PARAMETERS block', () => {
    expect(read('ec-with-params.pem')).toMatch(/BEGIN EC PARAMETERS[\s\S]+BEGIN EC PRIVATE KEY/);
    expect(keyTypeOf(loadPrivateKeyPem(read('ec-with-params.pem'), 'a'))).toBe('ec256');
    expect(keyTypeOf(loadPrivateKeyPem(read('ec384-sec1.pem'), 'b'))).toBe('ec384');
  });

  it('loads PKCS#8 keys', () => {
    const key = loadPrivateKeyPem(read('ec-pkcs8.pem'), 'ec-pkcs8.pem');
    expect(read('ec-pkcs8.pem')).toContain('BEGIN PRIVATE KEY');
    expect(publicKeysEqual(key, createPublicKey(read('ec-public.pem')))).toBe(true);
  });

  it('tolerates CRLF line endings and text around the block', () => {
    const crlf = read('rsa-pkcs1.pem').replace(/\n/g, '\r\n');
    const wrapped = `Bag Attributes\r\n    localKeyID: 01 02\r\nKey Attributes: <No Attributes>\r\n${crlf}\r\ntrailing notes\r\n`;
    const key = loadPrivateKeyPem(wrapped, 'crlf.pem');
    expect(publicKeysEqual(key, loadPrivateKeyPem(read('rsa-pkcs1.pem'), 'x'))).toBe(true);
  });

  it('accepts a combined file holding the key and certificates', () => {
    const combined = read('cert.pem') + read('ec-pkcs8.pem');
    expect(keyTypeOf(loadPrivateKeyPem(combined, 'combined.pem'))).toBe('ec256');
  });

  it('accepts RSA sizes above 2048 that are not generated types', () => {
    const key = loadPrivateKeyPem(read('rsa2304.pem'), 'rsa2304.pem');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2304);
    expect(keyTypeOf(key)).toBeUndefined();
    expect(jwsAlgorithmFor(key)).toBe('RS256');
  });

  const refusals: [string, () => string, string][] = [
    ['a certificate', () => read('cert.pem'), 'cert.pem holds a certificate, not a private key'],
    ['a CSR', () => read('csr.pem'), 'cert.pem holds a certificate signing request, not a private key'],
    ['a public key', () => read('ec-public.pem'), 'cert.pem holds a public key, not a private key'],
    ['a PKCS#1 public key', () => read('rsa-public-pkcs1.pem'), 'cert.pem holds a public key, not a private key'],
    ['an encrypted PKCS#8 key', () => read('encrypted-pkcs8.pem'), 'cert.pem holds an encrypted private key'],
    ['a legacy encrypted PKCS#1 key', () => read('encrypted-pkcs1.pem'), 'cert.pem holds an encrypted private key'],
    [
      'an Ed25519 key',
      () => read('ed25519.pem'),
      'cert.pem holds an unsupported Ed25519 key: use an RSA key of at least 2048 bits or an EC key on P-256 or P-384',
    ],
    [
      'a 1024-bit RSA key',
      () => read('rsa1024.pem'),
      'cert.pem holds an unsupported 1024-bit RSA key: use an RSA key of at least 2048 bits or an EC key on P-256 or P-384',
    ],
    ['a P-521 key', () => read('p521.pem'), 'cert.pem holds an unsupported EC key on secp521r1: use an RSA key'],
    ['a secp256k1 key', () => read('secp256k1.pem'), 'cert.pem holds an unsupported EC key on secp256k1'],
    ['garbage', () => 'hello, this is not a key\n', 'cert.pem does not hold a PEM private key'],
    ['an empty file', () => '', 'cert.pem does not hold a PEM private key'],
    [
      'damaged base64',
      () => read('ec-pkcs8.pem').replace(/\n(.)/, '\n!$1'),
      'cert.pem holds an unreadable private key (damaged PEM or DER)',
    ],
    [
      'truncated DER',
      () => truncateBody(read('rsa-pkcs8.pem')),
      'cert.pem holds an unreadable private key (damaged PEM or DER)',
    ],
    ['two keys', () => read('ec-pkcs8.pem') + read('rsa-pkcs8.pem'), 'cert.pem holds more than one private key'],
    [
      'an OpenSSH key',
      () => '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
      'cert.pem holds an OpenSSH private key, not a PEM private key',
    ],
  ];

  it.each(refusals)('refuses %s with a LocalError naming the source', (_what, text, message) => {
    const pem = text();
    let thrown: unknown;
    try {
      loadPrivateKeyPem(pem, 'cert.pem');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LocalError);
    const error = thrown as LocalError;
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.exitCode).toBe(6);
    // No key material: no base64 line of the input may appear in the message or hint.
    for (const line of pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l))) {
      expect(`${error.message} ${error.hint ?? ''}`).not.toContain(line.slice(0, 16));
    }
  });

  it('hints how to decrypt an encrypted key', () => {
    expect(() => loadPrivateKeyPem(read('encrypted-pkcs8.pem'), 'k')).toThrow(
      expect.objectContaining({ hint: expect.stringContaining('openssl pkey') }),
    );
  });
});

/** Keeps valid base64 but cuts the DER short. */
function truncateBody(pem: string): string {
  const lines = pem.trim().split('\n');
  const body = lines.slice(1, -1).join('');
  const shortened = Buffer.from(body, 'base64').subarray(0, 300).toString('base64');
  return `${lines[0]}\n${shortened}\n${lines.at(-1)}\n`;
}
