/**
 * ACME Renewal Information (RFC 9773): the certificate identifier and the renewal decision
 * from a suggested window.
 */
import { parseCertificate, type CertificateInfo } from '../crypto/certificate.js';
import type { RenewalInfo } from './types.js';

/** base64url(AKI keyIdentifier) "." base64url(serial number DER content bytes) — RFC 9773 §4.1. */
export function ariCertificateId(certificatePem: string): string | undefined {
  return ariCertificateIdOf(parseCertificate(certificatePem));
}

/** The same, for a certificate already parsed. */
export function ariCertificateIdOf(info: CertificateInfo): string | undefined {
  if (!info.authorityKeyIdentifier) return undefined;
  return `${info.authorityKeyIdentifier.toString('base64url')}.${info.serialBytes.toString('base64url')}`;
}

/**
 * RFC 9773 §4.2: pick a uniformly random time within the window; renew when that time has
 * passed. A window entirely in the past means renew now. `random` is injectable for tests.
 */
export function chooseRenewalTime(info: RenewalInfo, random: () => number = Math.random): Date {
  const start = Date.parse(info.suggestedWindow.start);
  const end = Date.parse(info.suggestedWindow.end);
  if (!(end > start)) return new Date(start);
  return new Date(start + Math.floor(random() * (end - start)));
}
