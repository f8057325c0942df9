/**
 * Certificates as the CA returns them and the store keeps them: PEM chain splitting, the fields
 * renew, revoke, ARI and `certificates` need, and a signature check along the chain. node's
 * X509Certificate parses; the extensions it does not expose are read from the DER directly.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Identifier } from './identifiers.js';
import { LocalError } from '../errors.js';
import {
  DER_INTEGER,
  DER_SEQUENCE,
  derChildren,
  derElementContent,
  derFirstChild,
  expectTag,
  readDerElement,
  type DerElement,
} from './der.js';
import { ipFromBytes } from './ip-address.js';
import { publicKeysEqual } from './keys.js';
import { encodePem, findPemBlocks } from './pem.js';

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
  // A BEGIN line without its END is a chain cut short (a dropped connection, a proxy): ignoring
  // the broken block would keep a chain that lacks its intermediates.
  const begun = text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (begun > blocks.length) {
    throw new PemChainError(
      `${source} is truncated: certificate ${blocks.length + 1} of ${begun} has no "-----END CERTIFICATE-----" line`,
      source,
    );
  }
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
  /** subjectAltName entries of any other kind (URI, email...), by GeneralName type. */
  otherAltNames: string[];
  /** keyIdentifier of the Authority Key Identifier extension. */
  authorityKeyIdentifier?: Buffer;
  subjectKeyIdentifier?: Buffer;
  publicKey: KeyObject;
  isCA: boolean;
}

/**
 * Parses the first certificate of `pem` (the leaf, when given a whole chain). node:crypto does the
 * parsing and the few fields it does not expose (serial bytes, key identifiers, SANs in order) are
 * read straight from the DER: `renew` parses every certificate on disk, and a general ASN.1
 * library costs milliseconds per certificate where this costs microseconds.
 */
export function parseCertificate(pem: string): CertificateInfo {
  const block = findPemBlocks(pem).find((b) => b.label === 'CERTIFICATE');
  if (block === undefined) throw new PemChainError('the certificate holds no PEM certificate', 'the certificate');
  if (block.der === undefined) throw new PemChainError('the certificate is not valid base64', 'the certificate');
  const der = block.der;
  let node: X509Certificate;
  let fields: TbsFields;
  let publicKey: KeyObject;
  try {
    node = new X509Certificate(der);
    fields = readTbsFields(der);
    // node decodes the key lazily: a damaged SubjectPublicKeyInfo only throws here.
    publicKey = node.publicKey;
    // OpenSSL accepts a malformed validity time and node turns it into an Invalid Date, which
    // would make every renewal decision about this certificate meaningless.
    if (Number.isNaN(node.validFromDate.getTime()) || Number.isNaN(node.validToDate.getTime())) {
      throw new Error('unreadable validity period');
    }
  } catch (error) {
    throw new PemChainError('the certificate is not a valid X.509 certificate', 'the certificate', { cause: error });
  }
  const info: CertificateInfo = {
    der,
    pem: encodePem('CERTIFICATE', der),
    serialHex: fields.serialBytes.toString('hex'),
    serialBytes: fields.serialBytes,
    notBefore: node.validFromDate,
    notAfter: node.validToDate,
    // node:crypto gives undefined for an empty name (Let's Encrypt and Pebble leaves have none).
    subject: oneLine(node.subject ?? ''),
    issuer: oneLine(node.issuer ?? ''),
    identifiers: fields.identifiers,
    otherAltNames: fields.otherAltNames,
    publicKey,
    isCA: node.ca,
  };
  const issuerCommonName = commonNameOf(node.issuer ?? '');
  if (issuerCommonName !== undefined) info.issuerCommonName = issuerCommonName;
  if (fields.authorityKeyIdentifier) info.authorityKeyIdentifier = fields.authorityKeyIdentifier;
  if (fields.subjectKeyIdentifier) info.subjectKeyIdentifier = fields.subjectKeyIdentifier;
  return info;
}

/** The last CN of a node:crypto multi-line distinguished name (the most specific one). */
function commonNameOf(name: string): string | undefined {
  const values = name
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
  return values.at(-1);
}

interface TbsFields {
  serialBytes: Buffer;
  identifiers: Identifier[];
  otherAltNames: string[];
  authorityKeyIdentifier?: Buffer;
  subjectKeyIdentifier?: Buffer;
}

const OID_SUBJECT_KEY_IDENTIFIER = '551d0e';
const OID_SUBJECT_ALT_NAME = '551d11';
const OID_AUTHORITY_KEY_IDENTIFIER = '551d23';

/** GeneralName (RFC 5280 §4.2.1.6) tags other than dNSName [2] and iPAddress [7]. */
const OTHER_GENERAL_NAMES: Readonly<Record<number, string>> = {
  0xa0: 'otherName',
  0x81: 'rfc822Name',
  0xa3: 'x400Address',
  0xa4: 'directoryName',
  0xa5: 'ediPartyName',
  0x86: 'uniformResourceIdentifier',
  0x88: 'registeredID',
};

/** Certificate → TBSCertificate: serialNumber, and the extensions acmecli reads. */
function readTbsFields(der: Buffer): TbsFields {
  const certificate = expectTag(readDerElement(der, 0), DER_SEQUENCE);
  const tbs = expectTag(derFirstChild(der, certificate), DER_SEQUENCE);
  const fields = derChildren(der, tbs);
  const serialIndex = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = expectTag(fields[serialIndex] as DerElement, DER_INTEGER);
  const result: TbsFields = { serialBytes: derElementContent(der, serial), identifiers: [], otherAltNames: [] };
  const extensionsWrapper = fields.find((f) => f.tag === 0xa3);
  if (!extensionsWrapper) return result;
  for (const extension of derChildren(der, expectTag(derFirstChild(der, extensionsWrapper), DER_SEQUENCE))) {
    const parts = derChildren(der, expectTag(extension, DER_SEQUENCE));
    const oid = parts[0] && parts[0].tag === 0x06 ? derElementContent(der, parts[0]).toString('hex') : '';
    const valueElement = parts.at(-1);
    if (!valueElement || valueElement.tag !== 0x04) continue;
    const value = derElementContent(der, valueElement);
    if (oid === OID_SUBJECT_ALT_NAME) {
      for (const name of derChildren(value, expectTag(readDerElement(value, 0), DER_SEQUENCE))) {
        const content = derElementContent(value, name);
        if (name.tag === 0x82) {
          result.identifiers.push({ type: 'dns', value: content.toString('latin1').toLowerCase() });
        } else if (name.tag === 0x87) {
          const ip = ipFromBytes(content);
          if (ip !== undefined) result.identifiers.push({ type: 'ip', value: ip });
          else result.otherAltNames.push(`iPAddress of ${content.length} bytes`);
        } else {
          result.otherAltNames.push(OTHER_GENERAL_NAMES[name.tag] ?? `GeneralName tag 0x${name.tag.toString(16)}`);
        }
      }
    } else if (oid === OID_AUTHORITY_KEY_IDENTIFIER) {
      const keyId = derChildren(value, expectTag(readDerElement(value, 0), DER_SEQUENCE)).find((c) => c.tag === 0x80);
      if (keyId) result.authorityKeyIdentifier = derElementContent(value, keyId);
    } else if (oid === OID_SUBJECT_KEY_IDENTIFIER) {
      result.subjectKeyIdentifier = derElementContent(value, expectTag(readDerElement(value, 0), 0x04));
    }
  }
  return result;
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
      throw new ChainVerificationError(`certificate ${index + 1} of the chain is not a readable certificate`, index);
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
