import { createHash, createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { dns01TxtValue, isBase64Url, jwkThumbprint, keyAuthorization, publicJwk } from '../../../src/crypto/jwk.js';
import { generateKey } from '../../../src/crypto/keys.js';

/** RFC 7638 section 3.1 (the RFC 7517 appendix A.1 key). */
const RFC7638_JWK = {
  kty: 'RSA',
  n:
    '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJEC' +
    'PebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qv' +
    'zqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6W' +
    'eZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
  alg: 'RS256',
  kid: '2011-04-29',
};

describe('jwkThumbprint', () => {
  it('matches the RFC 7638 section 3.1 example', async () => {
    const key = createPublicKey({ key: RFC7638_JWK, format: 'jwk' });
    // The RFC's published value; the canonical JSON it hashes is {"e","kty","n"} in that order.
    expect(jwkThumbprint(key)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it.each(['ec256', 'ec384', 'rsa2048'] as const)('agrees with jose for a %s key', async (type) => {
    const key = await generateKey(type);
    expect(jwkThumbprint(key)).toBe(await calculateJwkThumbprint(publicJwk(key), 'sha256'));
  });

  it('is the same for a private key and its public key', async () => {
    const key = await generateKey('ec256');
    expect(jwkThumbprint(key)).toBe(jwkThumbprint(createPublicKey(key)));
  });

  it('hashes the members in RFC 7638 order for EC keys', async () => {
    const key = await generateKey('ec384');
    const jwk = publicJwk(key);
    if (jwk.kty !== 'EC') throw new Error('expected an EC JWK');
    const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
    const expected = createHash('sha256').update(canonical).digest('base64url');
    expect(jwkThumbprint(key)).toBe(expected);
  });
});

describe('publicJwk', () => {
  it('has only kty, n and e for RSA', async () => {
    const key = createPublicKey({ key: RFC7638_JWK, format: 'jwk' });
    expect(publicJwk(key)).toEqual({ kty: 'RSA', n: RFC7638_JWK.n, e: 'AQAB' });
  });

  it.each([
    ['ec256', 'P-256', 43],
    ['ec384', 'P-384', 64],
  ] as const)('has only kty, crv, x and y for %s, never d', async (type, crv, coordinateLength) => {
    const key = await generateKey(type);
    const jwk = publicJwk(key);
    expect(Object.keys(jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    if (jwk.kty !== 'EC') throw new Error('expected an EC JWK');
    expect(jwk.crv).toBe(crv);
    expect(jwk.x).toHaveLength(coordinateLength);
    expect(jwk.y).toHaveLength(coordinateLength);
    expect(createPublicKey({ key: jwk, format: 'jwk' }).equals(createPublicKey(key))).toBe(true);
  });

  it('never exposes the private exponent of an RSA private key', async () => {
    const key = await generateKey('rsa2048');
    expect(Object.keys(publicJwk(key)).sort()).toEqual(['e', 'kty', 'n']);
  });
});

describe('key authorization and dns-01 value', () => {
  it('joins token and thumbprint with a dot (RFC 8555 8.1)', () => {
    const thumbprint = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
    expect(keyAuthorization('evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA', thumbprint)).toBe(
      'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    );
  });

  it('is base64url(SHA-256(key authorization)) without padding (RFC 8555 8.4)', async () => {
    const thumbprint = jwkThumbprint(createPublicKey({ key: RFC7638_JWK, format: 'jwk' }));
    const keyAuth = keyAuthorization('evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA', thumbprint);
    const digest = createHash('sha256').update(Buffer.from(keyAuth, 'ascii')).digest();
    const value = dns01TxtValue(keyAuth);
    expect(Buffer.from(value, 'base64url')).toEqual(digest);
    expect(value).toHaveLength(43);
    expect(isBase64Url(value)).toBe(true);
  });

  it('matches a fixed SHA-256 vector', () => {
    // SHA-256("abc") from FIPS 180-2, base64url.
    expect(dns01TxtValue('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });
});

describe('isBase64Url', () => {
  it.each(['a', 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA', 'A_b-9'])('accepts %j', (text) => {
    expect(isBase64Url(text)).toBe(true);
  });

  it.each(['', 'abc=', 'a+b', 'a/b', '../etc', 'a b', 'a.b', 'é', 'abc\n'])('refuses %j', (text) => {
    expect(isBase64Url(text)).toBe(false);
  });
});
