import { describe, expect, it } from 'vitest';
import { createPublicKey, createSecretKey } from 'node:crypto';
import { flattenedVerify, decodeProtectedHeader } from 'jose';
import {
  decodeEabHmacKey,
  signExternalAccountBinding,
  signKeyChange,
  signRequest,
  type FlattenedJws,
} from '../../../src/acme/jws.js';
import { generateKey } from '../../../src/crypto/keys.js';
import { publicJwk } from '../../../src/crypto/jwk.js';
import { UsageError } from '../../../src/errors.js';

const KEY_BYTES = Buffer.from('fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk', 'base64url');

describe('decodeEabHmacKey', () => {
  const standard = KEY_BYTES.toString('base64');
  it.each([
    ['base64url without padding (Certigna, GlobalSign)', 'fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk'],
    ['base64url with padding', 'fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk='],
    ['standard base64', standard],
    ['surrounded by whitespace', `  ${standard}\n`],
  ])('accepts %s', (_label, text) => {
    expect(Buffer.from(decodeEabHmacKey(text))).toEqual(KEY_BYTES);
  });

  it.each([
    ['', /is empty/],
    ['abc$def', /not base64/],
    ['a', /impossible base64 length/],
    ['YWJj', /only 3 bytes/],
  ])('refuses %j', (text, message) => {
    expect(() => decodeEabHmacKey(text)).toThrow(UsageError);
    expect(() => decodeEabHmacKey(text)).toThrow(message);
  });

  it('never echoes the key in its error', () => {
    const secret = 'c2VjcmV0c2VjcmV0c2VjcmV0$';
    try {
      decodeEabHmacKey(secret);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('c2VjcmV0');
    }
  });
});

describe('JWS', () => {
  it('signs POST-as-GET with kid over an empty payload', async () => {
    const key = await generateKey('ec256');
    const jws = await signRequest({
      key,
      identity: { kid: 'https://ca.test/acct/1' },
      url: 'https://ca.test/order/1',
      nonce: 'abc',
      payload: undefined,
    });
    expect(jws.payload).toBe('');
    expect(decodeProtectedHeader(jws)).toEqual({
      alg: 'ES256',
      kid: 'https://ca.test/acct/1',
      nonce: 'abc',
      url: 'https://ca.test/order/1',
    });
    await flattenedVerify(jws, createPublicKey(key));
  });

  it.each([
    ['ec384', 'ES384'],
    ['rsa3072', 'RS256'],
  ] as const)('uses jwk and %s → %s for newAccount', async (type, alg) => {
    const key = await generateKey(type);
    const jws = await signRequest({
      key,
      identity: { jwk: true },
      url: 'https://ca.test/new-acct',
      nonce: 'n',
      payload: { termsOfServiceAgreed: true },
    });
    const header = decodeProtectedHeader(jws);
    expect(header.alg).toBe(alg);
    expect(header.jwk).toEqual(publicJwk(key));
    expect(header.kid).toBeUndefined();
    const { payload } = await flattenedVerify(jws, createPublicKey(key));
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ termsOfServiceAgreed: true });
  });

  it.each(['HS256', 'HS384', 'HS512'] as const)(
    'binds an external account with %s (RFC 8555 §7.3.4)',
    async (algorithm) => {
      const accountKey = await generateKey('ec256');
      const jws: FlattenedJws = await signExternalAccountBinding({
        accountKey,
        binding: {
          keyId: '6136f1b5-39c8-4417-b8a7-c4114b092be6',
          hmacKey: 'fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk',
          algorithm,
        },
        url: 'https://ca.test/new-acct',
      });
      expect(decodeProtectedHeader(jws)).toEqual({
        alg: algorithm,
        kid: '6136f1b5-39c8-4417-b8a7-c4114b092be6',
        url: 'https://ca.test/new-acct',
      });
      const { payload } = await flattenedVerify(jws, createSecretKey(KEY_BYTES));
      expect(JSON.parse(Buffer.from(payload).toString())).toEqual(publicJwk(accountKey));
      // A different MAC key must not verify.
      await expect(flattenedVerify(jws, createSecretKey(Buffer.alloc(32, 1)))).rejects.toThrow();
    },
  );

  it('builds the key-change inner JWS signed by the new key (RFC 8555 §7.3.5)', async () => {
    const oldKey = await generateKey('ec256');
    const newKey = await generateKey('rsa2048');
    const inner = await signKeyChange({
      accountUrl: 'https://ca.test/acct/1',
      oldKey,
      newKey,
      url: 'https://ca.test/key-change',
    });
    const header = decodeProtectedHeader(inner);
    expect(header).toEqual({ alg: 'RS256', jwk: publicJwk(newKey), url: 'https://ca.test/key-change' });
    expect(header.nonce).toBeUndefined();
    const { payload } = await flattenedVerify(inner, createPublicKey(newKey));
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({
      account: 'https://ca.test/acct/1',
      oldKey: publicJwk(oldKey),
    });
  });
});
