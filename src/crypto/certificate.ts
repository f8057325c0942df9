/**
 * Certificates as the CA returns them and the store keeps them: PEM chain splitting, the fields
 * renew, revoke, ARI and `certificates` need, and a signature check along the chain. Validity and
 * keys come from node's X509Certificate; extensions from @peculiar/x509.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Identifier } from '../acme/types.js';
import { LocalError } from '../errors.js';
import {
  DER_INTEGER,
  DER_SEQUENCE,
  derElementContent,
  derFirstChild,
  expectTag,
  readDerElement,
} from './der.js';
import { canonicalIp } from './ip-address.js';
import { publicKeysEqual } from './keys.js';
import { encodePem, findPemBlocks } from './pem.js';
import { x509 } from './x509-lib.js';

/**
 * A PEM certificate text is missing or damaged. A LocalError because most certificates come from
 * files; the order flow rewraps it when the bytes came from the CA.
 */
export class PemChainError extends LocalError {
  constructor(
    message: string,
    readonly source: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A certificate in a chain is not issued and signed by the next one. */
export class ChainVerificationError extends LocalError {
  constructor(
    message: string,
    /** 0-based position of the certificate whose issuer does not follow it. */
    readonly position: number,
  ) {
    super(message);
  }
}

/**
 * Each CERTIFICATE block of `text`, re-encoded from its DER (LF line endings, 64-column base64,
 * trailing newline) so files written from it are byte-stable. Other blocks and text between
 * blocks are ignored; a block that is not base64 or not a certificate is an error.
 */
export function splitPemChain(text: string, source: string): string[] {
  const blocks = findPemBlocks(text).filter((block) => block.label === 'CERTIFICATE');
  if (blocks.length === 0) throw new PemChainError(`${source} holds no PEM certificate`, source);
  return blocks.map((block, index) => {
    const position = blocks.length === 1 ? 'the certificate' : `certificate ${index + 1}`;
    if (block.der === undefined) {
      throw new PemChainError(`${source}: ${position} is not valid base64`, source);
    }
    try {
      new X509Certificate(block.der);
    } catch (error) {
      throw new PemChainError(`${source}: ${position} is not a valid X.509 certificate`, source, {
        cause: error,
      });
    }
    return encodePem('CERTIFICATE', block.der);
  });
}

export interface CertificateInfo {
  der: Buffer;
  /** Normalised PEM of this one certificate. */
  pem: string;
  /**
   * Lowercase hex of the DER INTEGER content bytes, so it keeps the 00 sign byte a serial with
   * its top bit set carries ("00a1…"); `openssl x509 -serial` shows the same digits in uppercase.
   */
  serialHex: string;
  /** The DER INTEGER content bytes, verbatim: what RFC 9773 ARI identifiers encode. */
  serialBytes: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** "TYPE=value" pairs joined by ", " in stored order: "C=US, O=Let's Encrypt, CN=R11". */
  subject: string;
  issuer: string;
  issuerCommonName?: string;
  /** subjectAltName dNSName (lowercased) and iPAddress (canonical text) entries, in order. */
  identifiers: Identifier[];
  /** keyIdentifier of the Authority Key Identifier extension. */
  authorityKeyIdentifier?: Buffer;
  subjectKeyIdentifier?: Buffer;
  publicKey: KeyObject;
  isCA: boolean;
}

/** Parses the first certificate of `pem` (the leaf, when given a whole chain). */
export function parseCertificate(pem: string): CertificateInfo {
  const [first] = splitPemChain(pem, 'the certificate');
  if (first === undefined) throw new PemChainError('no PEM certificate', 'the certificate');
  const der = findPemBlocks(first)[0]?.der ?? Buffer.alloc(0);
  const node = new X509Certificate(der);
  const cert = new x509.X509Certificate(der);

  const serialBytes = serialBytesOf(der);
  const info: CertificateInfo = {
    der,
    pem: first,
    serialHex: serialBytes.toString('hex'),
    serialBytes,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    subject: cert.subject,
    issuer: cert.issuer,
    identifiers: certificateIdentifiers(cert),
    publicKey: node.publicKey,
    isCA: node.ca,
  };
  const issuerCommonName = cert.issuerName.getField('CN')[0];
  if (issuerCommonName !== undefined) info.issuerCommonName = issuerCommonName;
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (aki?.keyId !== undefined) info.authorityKeyIdentifier = Buffer.from(aki.keyId, 'hex');
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) info.subjectKeyIdentifier = Buffer.from(ski.keyId, 'hex');
  return info;
}

/** Certificate → TBSCertificate → optional [0] version → serialNumber INTEGER. */
function serialBytesOf(der: Buffer): Buffer {
  const certificate = expectTag(readDerElement(der, 0), DER_SEQUENCE);
  const tbs = expectTag(derFirstChild(der, certificate), DER_SEQUENCE);
  let field = derFirstChild(der, tbs);
  if (field.tag === 0xa0) field = readDerElement(der, field.end);
  return derElementContent(der, expectTag(field, DER_INTEGER));
}

function certificateIdentifiers(cert: x509.X509Certificate): Identifier[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (san === null) return [];
  const identifiers: Identifier[] = [];
  for (const name of san.names.items) {
    if (name.type === 'dns') identifiers.push({ type: 'dns', value: name.value.toLowerCase() });
    if (name.type !== 'ip') continue;
    const ip = canonicalIp(name.value);
    if (ip !== undefined) identifiers.push({ type: 'ip', value: ip });
  }
  return identifiers;
}

/** True when the certificate (first in `certPem`) is for this key's public key. */
export function certificateMatchesKey(certPem: string, key: KeyObject): boolean {
  return publicKeysEqual(parseCertificate(certPem).publicKey, key);
}

/**
 * Checks that each certificate is issued (names and key identifiers) and signed by the next.
 * Deliberately no trust-root check: a CA's chain may stop below the root, and the trust store of
 * the machine running acmecli is not the one of the TLS clients.
 */
export function verifyChain(chainPems: readonly string[]): void {
  if (chainPems.length === 0) throw new ChainVerificationError('the certificate chain is empty', 0);
  const certificates = chainPems.map((pem, index) => {
    const der = findPemBlocks(pem).find((block) => block.label === 'CERTIFICATE')?.der;
    try {
      if (der === undefined) throw new Error('no PEM certificate');
      return new X509Certificate(der);
    } catch {
      throw new ChainVerificationError(
        `certificate ${index + 1} of the chain is not a readable certificate`,
        index,
      );
    }
  });
  for (let index = 0; index + 1 < certificates.length; index += 1) {
    const subject = certificates[index];
    const issuer = certificates[index + 1];
    if (subject === undefined || issuer === undefined) continue;
    if (!subject.checkIssued(issuer) || !subject.verify(issuer.publicKey)) {
      throw new ChainVerificationError(
        `certificate ${index + 1} of the chain (${oneLine(subject.subject)}) is not issued by ` +
          `certificate ${index + 2} (${oneLine(issuer.subject)})`,
        index,
      );
    }
  }
}

function oneLine(name: string): string {
  return name.split('\n').join(', ');
}
