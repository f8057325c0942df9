/**
 * JWS for ACME (RFC 8555 §6.2): flattened JSON serialization, `jwk` or `kid`, the External
 * Account Binding inner JWS (§7.3.4) and the key-change inner JWS (§7.3.5).
 *
 * Signed with node:crypto directly rather than jose: ACME needs three asymmetric algorithms and
 * three MACs, and jose reaches them through WebCrypto, whose load costs memory and CPU time every
 * issuance would pay. The tests verify every signature with jose.
 */
import { createHmac, sign, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import { jwsAlgorithmFor } from '../crypto/keys.js';
import { publicJwk, type PublicJwk } from '../crypto/jwk.js';

/** RFC 7515 §7.2.2: the flattened JWS JSON serialization, every member base64url. */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

type AsymmetricAlgorithm = ReturnType<typeof jwsAlgorithmFor>;

const DIGEST = {
  ES256: 'sha256',
  ES384: 'sha384',
  RS256: 'sha256',
  HS256: 'sha256',
  HS384: 'sha384',
  HS512: 'sha512',
} as const;

function flattened(
  header: Record<string, unknown>,
  payload: Uint8Array,
  signInput: (input: Buffer) => Buffer,
): FlattenedJws {
  const protectedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  const encodedPayload = Buffer.from(payload).toString('base64url');
  const signature = signInput(Buffer.from(`${protectedHeader}.${encodedPayload}`, 'ascii'));
  return { protected: protectedHeader, payload: encodedPayload, signature: signature.toString('base64url') };
}

function signAsymmetric(
  header: Record<string, unknown> & { alg: AsymmetricAlgorithm },
  payload: Uint8Array,
  key: KeyObject,
): FlattenedJws {
  // RFC 7518 §3.4: ECDSA signatures are R || S of fixed width, not DER.
  const signingKey = key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  return flattened(header, payload, (input) => sign(DIGEST[header.alg], input, signingKey));
}

export type SignerIdentity = { kid: string } | { jwk: true };

const encoder = new TextEncoder();

function payloadBytes(payload: unknown): Uint8Array {
  // POST-as-GET (§6.3) signs the empty string, not "{}" or "null".
  return payload === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(payload));
}

export async function signRequest(options: {
  key: KeyObject;
  identity: SignerIdentity;
  url: string;
  nonce: string;
  payload: unknown;
}): Promise<FlattenedJws> {
  const header: Record<string, unknown> & { alg: AsymmetricAlgorithm } = {
    alg: jwsAlgorithmFor(options.key),
    nonce: options.nonce,
    url: options.url,
  };
  if ('kid' in options.identity) header.kid = options.identity.kid;
  else header.jwk = publicJwk(options.key);
  return signAsymmetric(header, payloadBytes(options.payload), options.key);
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
export function decodeEabHmacKey(text: string, what = 'the EAB MAC key'): Uint8Array {
  const trimmed = text.trim();
  if (trimmed === '') throw new UsageError(`${what} is empty`);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new UsageError(`${what} is not base64 or base64url (it contains characters outside A-Z a-z 0-9 + / - _ =)`);
  }
  const unpadded = trimmed.replace(/=+$/, '');
  if (unpadded.length % 4 === 1)
    throw new UsageError(`${what} has an impossible base64 length (${trimmed.length} characters): was it cut short?`);
  const bytes = Buffer.from(unpadded.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  if (bytes.length < 16)
    throw new UsageError(`${what} decodes to only ${bytes.length} bytes; a MAC key has at least 16`);
  return new Uint8Array(bytes);
}

export async function signExternalAccountBinding(options: {
  accountKey: KeyObject;
  binding: ExternalAccountBinding;
  url: string;
}): Promise<FlattenedJws> {
  const macKey = decodeEabHmacKey(options.binding.hmacKey);
  const jwk: PublicJwk = publicJwk(options.accountKey);
  const alg = options.binding.algorithm ?? 'HS256';
  return flattened(
    { alg, kid: options.binding.keyId, url: options.url },
    encoder.encode(JSON.stringify(jwk)),
    (input) => createHmac(DIGEST[alg], macKey).update(input).digest(),
  );
}

/** The inner JWS of a key change: signed by the new key, carrying the old key. */
export async function signKeyChange(options: {
  accountUrl: string;
  oldKey: KeyObject;
  newKey: KeyObject;
  url: string;
}): Promise<FlattenedJws> {
  const payload = { account: options.accountUrl, oldKey: publicJwk(options.oldKey) };
  const header = { alg: jwsAlgorithmFor(options.newKey), jwk: publicJwk(options.newKey), url: options.url };
  return signAsymmetric(header, encoder.encode(JSON.stringify(payload)), options.newKey);
}
