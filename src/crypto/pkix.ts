/**
 * The X.509 structures a PKCS#10 request (csr.ts) and a certificate (tls-alpn.ts) share: names,
 * extensions, subjectAltName, and the signed envelope. Signing is node:crypto's.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { Identifier } from './identifiers.js';
import { UsageError } from '../errors.js';
import {
  derBitString,
  derBoolean,
  derImplicit,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derUtf8String,
} from './der.js';
import { canonicalIp, ipToBytes } from './ip-address.js';

export const OID_COMMON_NAME = '2.5.4.3';
export const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** GeneralName choices (RFC 5280 4.2.1.6) as context tags: dNSName [2], iPAddress [7]. */
export const GENERAL_NAME_DNS = 2;
export const GENERAL_NAME_IP = 7;

/**
 * A Name with at most a commonName. UTF8String because '*' (wildcards) is not a PrintableString
 * character, and one encoding for every name is simpler for whoever reads it.
 */
export function encodeName(commonName: string | undefined): Buffer {
  if (commonName === undefined) return derSequence();
  const attribute = derSequence(derOid(OID_COMMON_NAME), derUtf8String(commonName));
  return derSequence(derSet(attribute));
}

/** An Extension; `critical` FALSE is the DEFAULT, which DER leaves out. */
export function encodeExtension(oid: string, critical: boolean, value: Uint8Array): Buffer {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

/** dNSName for DNS identifiers (wildcards as given), iPAddress (4 or 16 bytes) for IPs. */
export function encodeGeneralName(identifier: Identifier): Buffer {
  if (identifier.type === 'dns') return derImplicit(GENERAL_NAME_DNS, Buffer.from(identifier.value, 'latin1'));
  if (canonicalIp(identifier.value) === undefined) {
    throw new UsageError(`"${identifier.value}" is not an IP address`);
  }
  return derImplicit(GENERAL_NAME_IP, ipToBytes(identifier.value));
}

export function encodeSubjectAltName(identifiers: readonly Identifier[], critical: boolean): Buffer {
  const names = derSequence(...identifiers.map(encodeGeneralName));
  return encodeExtension(OID_SUBJECT_ALT_NAME, critical, names);
}

/** SubjectPublicKeyInfo of a private or public key, as node:crypto encodes it. */
export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

export interface SigningAlgorithm {
  /** The AlgorithmIdentifier, written both inside the signed content and beside it. */
  identifier: Buffer;
  hash: 'sha256' | 'sha384';
}

/**
 * RSA signs with PKCS#1 v1.5 SHA-256 (its AlgorithmIdentifier carries a NULL parameter, RFC
 * 4055 5); ECDSA with the hash matching the curve (P-384 → SHA-384), as RFC 5480 recommends and
 * CAs expect, and without parameters (RFC 5758 3.2).
 */
export function signingAlgorithmFor(privateKey: KeyObject): SigningAlgorithm {
  if (privateKey.asymmetricKeyType === 'rsa') {
    return { identifier: derSequence(derOid('1.2.840.113549.1.1.11'), derNull()), hash: 'sha256' };
  }
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType === 'ec' && curve === 'prime256v1') {
    return { identifier: derSequence(derOid('1.2.840.10045.4.3.2')), hash: 'sha256' };
  }
  if (privateKey.asymmetricKeyType === 'ec' && curve === 'secp384r1') {
    return { identifier: derSequence(derOid('1.2.840.10045.4.3.3')), hash: 'sha384' };
  }
  throw new Error(`cannot sign with a ${privateKey.asymmetricKeyType ?? 'unknown'} key`);
}

/**
 * SEQUENCE { toBeSigned, algorithm, BIT STRING signature }: the envelope of both a
 * CertificationRequest and a Certificate. ECDSA signatures come out of node:crypto in DER
 * (Ecdsa-Sig-Value), which is what X.509 wants.
 */
export function signDer(toBeSigned: Buffer, privateKey: KeyObject, algorithm: SigningAlgorithm): Buffer {
  const signature = sign(algorithm.hash, toBeSigned, { key: privateKey, dsaEncoding: 'der' });
  return derSequence(toBeSigned, algorithm.identifier, derBitString(signature));
}
