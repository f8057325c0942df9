/**
 * RFC 8737 tls-alpn-01 validation certificates. The core builds one per challenge so plugins
 * only serve it (lego's "providers never do ACME maths").
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Identifier } from './identifiers.js';
import { derExplicit, derInteger, derOctetString, derSequence, derTime } from './der.js';
import { ipToBytes } from './ip-address.js';
import { exportPrivateKeyPem, generateKey } from './keys.js';
import { encodePem } from './pem.js';
import {
  encodeExtension,
  encodeName,
  encodeSubjectAltName,
  signDer,
  signingAlgorithmFor,
  subjectPublicKeyInfo,
} from './pkix.js';

/** id-pe-acmeIdentifier (RFC 8737 6.1). */
export const OID_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';

/** The validator does not check validity dates; a day either side absorbs clock skew anyway. */
const VALIDITY_MARGIN_MS = 24 * 60 * 60 * 1000;
const SUBJECT = 'ACME tls-alpn-01 challenge';
/** Certificate version v3 (the INTEGER 2), needed for extensions. */
const VERSION_3 = 2;

/**
 * A self-signed certificate on a fresh P-256 key whose only SAN is the identifier and whose
 * critical acmeIdentifier extension holds SHA-256(key authorization) (RFC 8737 3).
 */
export async function createTlsAlpnCertificate(
  identifier: Identifier,
  keyAuthorization: string,
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  // The subject is not the identifier, so the SAN is what names it; critical per RFC 5280
  // is only required for an empty subject. Built first: it refuses an IP that is no address.
  const subjectAltName = encodeSubjectAltName([identifier], false);
  const digest = createHash('sha256').update(keyAuthorization, 'utf8').digest();
  const acmeIdentifier = encodeExtension(OID_ACME_IDENTIFIER, true, derOctetString(digest));

  const privateKey = await generateKey('ec256');
  const algorithm = signingAlgorithmFor(privateKey);
  const now = Date.now();
  const name = encodeName(SUBJECT);
  const toBeSigned = derSequence(
    derExplicit(0, derInteger(VERSION_3)),
    derInteger(randomSerial()),
    algorithm.identifier,
    name,
    derSequence(derTime(new Date(now - VALIDITY_MARGIN_MS)), derTime(new Date(now + VALIDITY_MARGIN_MS))),
    name,
    subjectPublicKeyInfo(privateKey),
    derExplicit(3, derSequence(subjectAltName, acmeIdentifier)),
  );
  return {
    certificatePem: encodePem('CERTIFICATE', signDer(toBeSigned, privateKey, algorithm)),
    privateKeyPem: exportPrivateKeyPem(privateKey),
  };
}

/**
 * 16 random bytes with the top bit clear and the next one set: positive, at most 20 octets, and
 * never shortened by a leading zero (RFC 5280 4.1.2.2).
 */
function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial;
}

/**
 * RFC 8738 6: the reverse-mapping name a tls-alpn-01 validator sends as SNI for an IP
 * identifier: `4.3.2.1.in-addr.arpa`, or 32 reversed nibbles under `ip6.arpa`.
 */
export function ipToReverseDnsName(ip: string): string {
  const bytes = ipToBytes(ip);
  if (bytes.length === 4) return `${[...bytes].reverse().join('.')}.in-addr.arpa`;
  const nibbles = [...bytes.toString('hex')].reverse();
  return `${nibbles.join('.')}.ip6.arpa`;
}
