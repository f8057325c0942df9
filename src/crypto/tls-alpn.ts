/**
 * RFC 8737 tls-alpn-01 validation certificates. The core builds one per challenge so plugins
 * only serve it (lego's "providers never do ACME maths").
 */
import { createHash } from 'node:crypto';
import type { Identifier } from '../acme/types.js';
import { UsageError } from '../errors.js';
import { canonicalIp, ipToBytes } from './ip-address.js';
import { exportPrivateKeyPem, generateKey } from './keys.js';
import { encodePem } from './pem.js';
import type * as X509 from '@peculiar/x509';
import { loadX509, signingKeysFor } from './x509-lib.js';

/** id-pe-acmeIdentifier (RFC 8737 6.1). */
export const OID_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';

/** The validator does not check validity dates; a day either side absorbs clock skew anyway. */
const VALIDITY_MARGIN_MS = 24 * 60 * 60 * 1000;

/**
 * A self-signed certificate on a fresh P-256 key whose only SAN is the identifier and whose
 * critical acmeIdentifier extension holds SHA-256(key authorization) (RFC 8737 3).
 */
export async function createTlsAlpnCertificate(
  identifier: Identifier,
  keyAuthorization: string,
): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const x509 = await loadX509();
  let name: X509.JsonGeneralName;
  if (identifier.type === 'ip') {
    const ip = canonicalIp(identifier.value);
    if (ip === undefined) throw new UsageError(`"${identifier.value}" is not an IP address`);
    name = { type: 'ip', value: ip };
  } else {
    name = { type: 'dns', value: identifier.value };
  }
  const digest = createHash('sha256').update(keyAuthorization, 'utf8').digest();
  // The extension value is an ASN.1 OCTET STRING of the 32-byte digest: tag 04, length 32.
  const acmeIdentifier = Buffer.concat([Buffer.from([0x04, digest.length]), digest]);

  const privateKey = await generateKey('ec256');
  const { keys, signingAlgorithm } = signingKeysFor(privateKey);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: new x509.Name([{ CN: [{ utf8String: 'ACME tls-alpn-01 challenge' }] }]),
    notBefore: new Date(now - VALIDITY_MARGIN_MS),
    notAfter: new Date(now + VALIDITY_MARGIN_MS),
    keys,
    signingAlgorithm,
    extensions: [
      // The subject is not the identifier, so the SAN is what names it; critical per RFC 5280
      // is only required for an empty subject.
      new x509.SubjectAlternativeNameExtension([name]),
      new x509.Extension(OID_ACME_IDENTIFIER, true, acmeIdentifier),
    ],
  });
  return {
    certificatePem: encodePem('CERTIFICATE', new Uint8Array(certificate.rawData)),
    privateKeyPem: exportPrivateKeyPem(privateKey),
  };
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
