/**
 * JWS for ACME (RFC 8555 §6.2) with jose: flattened JSON serialization, `jwk` or `kid`, the
 * External Account Binding inner JWS (§7.3.4) and the key-change inner JWS (§7.3.5).
 */
import type { KeyObject } from 'node:crypto';
import type { FlattenedJWS, JWK } from 'jose';

/** jose on first signature: a run with nothing to sign (renew, nothing due) never loads it. */
const loadJose = () => import('jose');
import { UsageError } from '../errors.js';
import { jwsAlgorithmFor } from '../crypto/keys.js';
import { publicJwk } from '../crypto/jwk.js';

export type SignerIdentity = { kid: string } | { jwk: true };

const encoder = new TextEncoder();

function payloadBytes(payload: unknown | undefined): Uint8Array {
  // POST-as-GET (§6.3) signs the empty string, not "{}" or "null".
  return payload === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(payload));
}

export async function signRequest(options: {
  key: KeyObject;
  identity: SignerIdentity;
  url: string;
  nonce: string;
  payload: unknown | undefined;
}): Promise<FlattenedJWS> {
  const header: Record<string, unknown> = {
    alg: jwsAlgorithmFor(options.key),
    nonce: options.nonce,
    url: options.url,
  };
  if ('kid' in options.identity) header.kid = options.identity.kid;
  else header.jwk = publicJwk(options.key);
  const { FlattenedSign } = await loadJose();
  return new FlattenedSign(payloadBytes(options.payload)).setProtectedHeader(header).sign(options.key);
}

export type EabAlgorithm = 'HS256' | 'HS384' | 'HS512';
export const EAB_ALGORITHMS: readonly EabAlgorithm[] = ['HS256', 'HS384', 'HS512'];

export interface ExternalAccountBinding {
  keyId: string;
  /** The MAC key as the CA printed it: base64url with or without padding, or standard base64. */
  hmacKey: string;
  algorithm?: EabAlgorithm;
}

/**
 * Decodes a MAC key in any of the spellings CAs hand out (Certigna and GlobalSign print
 * base64url without padding, others padded or standard base64). Never echoes the key.
 */
export function decodeEabHmacKey(text: string, flag = '--eab-hmac-key'): Uint8Array {
  const trimmed = text.trim();
  if (trimmed === '') throw new UsageError(`${flag} is empty`);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new UsageError(`${flag} is not base64 or base64url (it contains characters outside A-Z a-z 0-9 + / - _ =)`);
  }
  const unpadded = trimmed.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) throw new UsageError(`${flag} has an impossible base64 length (${trimmed.length} characters): was it cut short?`);
  const bytes = Buffer.from(unpadded.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  if (bytes.length < 16) throw new UsageError(`${flag} decodes to only ${bytes.length} bytes; a MAC key has at least 16`);
  return new Uint8Array(bytes);
}

export async function signExternalAccountBinding(options: {
  accountKey: KeyObject;
  binding: ExternalAccountBinding;
  url: string;
}): Promise<FlattenedJWS> {
  const macKey = decodeEabHmacKey(options.binding.hmacKey);
  const jwk: JWK = publicJwk(options.accountKey);
  const { FlattenedSign } = await loadJose();
  return new FlattenedSign(encoder.encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: options.binding.algorithm ?? 'HS256', kid: options.binding.keyId, url: options.url })
    .sign(macKey);
}

/** The inner JWS of a key change: signed by the new key, carrying the old key. */
export async function signKeyChange(options: {
  accountUrl: string;
  oldKey: KeyObject;
  newKey: KeyObject;
  url: string;
}): Promise<FlattenedJWS> {
  const payload = { account: options.accountUrl, oldKey: publicJwk(options.oldKey) };
  const { FlattenedSign } = await loadJose();
  return new FlattenedSign(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: jwsAlgorithmFor(options.newKey), jwk: publicJwk(options.newKey), url: options.url })
    .sign(options.newKey);
}
