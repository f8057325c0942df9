/**
 * JWK maths for the account key: the public JWK sent in newAccount/keyChange, the RFC 7638
 * thumbprint, and the two values derived from it for challenges (RFC 8555 8.1 and 8.4).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { publicKeyOf } from './keys.js';

/** An account key's public JWK: only the members RFC 7638 lists for its key type. */
export type PublicJwk = { kty: 'EC'; crv: string; x: string; y: string } | { kty: 'RSA'; n: string; e: string };

export function publicJwk(key: KeyObject): PublicJwk {
  const jwk = publicKeyOf(key).export({ format: 'jwk' });
  if (jwk.kty === 'EC' && jwk.crv && jwk.x && jwk.y) return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) return { kty: 'RSA', n: jwk.n, e: jwk.e };
  throw new Error(`no ACME JWK for a ${jwk.kty ?? 'unknown'} key`);
}

/** RFC 7638 SHA-256 thumbprint, base64url: the required members, in lexicographic order, no whitespace. */
export function jwkThumbprint(key: KeyObject): string {
  const jwk = publicJwk(key);
  const canonical =
    jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/**
 * RFC 8555 8.1: token "." thumbprint. The token comes from the CA; callers check it with
 * isBase64Url first, because it also becomes a file name and a URL path for http-01.
 */
export function keyAuthorization(token: string, thumbprint: string): string {
  return `${token}.${thumbprint}`;
}

/** RFC 8555 8.4: the TXT record value, base64url(SHA-256(key authorization)). */
export function dns01TxtValue(keyAuthorization: string): string {
  return createHash('sha256').update(keyAuthorization, 'utf8').digest('base64url');
}

/** Non-empty and only the base64url alphabet, without padding (RFC 8555 8.3 tokens). */
export function isBase64Url(text: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(text);
}
