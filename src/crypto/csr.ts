/**
 * PKCS#10 certificate signing requests: the one acmecli sends at finalize, and one a user brings
 * with `--csr`. Building and field parsing use @peculiar/x509; the signature check uses
 * node:crypto so that parsing stays synchronous.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Identifier } from '../acme/types.js';
import { LocalError, UsageError, messageOf } from '../errors.js';
import { readDerElement, derFirstChild, derElementBytes, expectTag, DER_SEQUENCE } from './der.js';
import { canonicalIp } from './ip-address.js';
import { encodePem, findPemBlocks } from './pem.js';
import type * as X509 from '@peculiar/x509';
import { loadX509, signingKeysFor, type X509Module } from './x509-lib.js';

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** RFC 5280 upper bound for commonName; a longer first name simply goes without a CN. */
const MAX_COMMON_NAME_LENGTH = 64;

/**
 * A CSR for `identifiers` (order identifiers; wildcards as `*.example.com`). All names go in
 * subjectAltName; the first DNS name is also the CN when it fits, because some CAs and many
 * tools still display it. Without a CN the subject is empty, so the SAN extension is critical
 * (RFC 5280 4.2.1.6).
 */
export async function createCsr(
  key: KeyObject,
  identifiers: readonly Identifier[],
): Promise<{ der: Buffer; pem: string }> {
  if (identifiers.length === 0) throw new UsageError('a certificate needs at least one identifier');
  const x509 = await loadX509();
  const names = identifiers.map((identifier): X509.JsonGeneralName => {
    if (identifier.type === 'dns') return { type: 'dns', value: identifier.value };
    const ip = canonicalIp(identifier.value);
    if (ip === undefined) throw new UsageError(`"${identifier.value}" is not an IP address`);
    return { type: 'ip', value: ip };
  });
  const commonName = identifiers.find((identifier) => identifier.type === 'dns')?.value;
  const useCommonName = commonName !== undefined && commonName.length <= MAX_COMMON_NAME_LENGTH;
  const { keys, signingAlgorithm } = signingKeysFor(key);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    // utf8String explicitly: '*' is not a PrintableString character, and one encoding for all.
    ...(useCommonName ? { name: new x509.Name([{ CN: [{ utf8String: commonName }] }]) } : {}),
    keys,
    signingAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension(names, !useCommonName)],
  });
  const der = Buffer.from(csr.rawData);
  return { der, pem: encodePem('CERTIFICATE REQUEST', der) };
}

export interface ParsedCsr {
  /** CN first (when it is a DNS name missing from the SANs), then SANs; DNS names lowercased. */
  identifiers: Identifier[];
  publicKey: KeyObject;
  der: Buffer;
}

/**
 * Reads a CSR given by the user (PEM or DER), checks its self-signature, and lists the
 * identifiers an order for it needs. Names ACME cannot validate (email, URI) are refused here
 * rather than by the CA after every challenge was solved.
 */
export async function parseCsr(input: string | Buffer, source: string): Promise<ParsedCsr> {
  const der = csrDer(input, source);
  const x509 = await loadX509();
  let csr: X509.Pkcs10CertificateRequest;
  let publicKey: KeyObject;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    const spki = Buffer.from(csr.publicKey.rawData);
    publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (error) {
    throw new LocalError(`${source} holds an unreadable certificate signing request`, {
      cause: error,
    });
  }
  checkSignature(csr, der, publicKey, source);

  const identifiers: Identifier[] = [];
  const add = (identifier: Identifier): void => {
    const known = identifiers.some(
      (existing) => existing.type === identifier.type && existing.value === identifier.value,
    );
    if (!known) identifiers.push(identifier);
  };
  const sanNames = subjectAltNames(x509, csr, source);
  for (const commonName of csr.subjectName.getField('CN')) {
    // A CN holding an IP address or free text is not an identifier; RFC 8738 needs IPs in SANs.
    if (canonicalIp(commonName) === undefined && /^(\*\.)?[A-Za-z0-9_.-]+$/.test(commonName)) {
      add({ type: 'dns', value: commonName.toLowerCase() });
    }
  }
  for (const name of sanNames) {
    if (name.type === 'dns') {
      add({ type: 'dns', value: name.value.toLowerCase() });
      continue;
    }
    if (name.type === 'ip') {
      const ip = canonicalIp(name.value);
      if (ip === undefined) throw new LocalError(`${source} requests a malformed IP address`);
      add({ type: 'ip', value: ip });
      continue;
    }
    throw new LocalError(
      `${source} requests ${article(name.type)} name ("${name.value}"), which ACME cannot validate`,
    );
  }
  if (identifiers.length === 0) {
    throw new LocalError(`${source} requests no DNS name or IP address`);
  }
  return { identifiers, publicKey, der };
}

function csrDer(input: string | Buffer, source: string): Buffer {
  const looksLikeDer =
    Buffer.isBuffer(input) && input[0] === DER_SEQUENCE && !input.includes('-----BEGIN');
  if (looksLikeDer) return input;
  const text = Buffer.isBuffer(input) ? input.toString('latin1') : input;
  const blocks = findPemBlocks(text);
  const block = blocks.find(
    (candidate) =>
      candidate.label === 'CERTIFICATE REQUEST' || candidate.label === 'NEW CERTIFICATE REQUEST',
  );
  if (block === undefined) {
    const what = blocks[0]?.label.toLowerCase();
    if (what !== undefined) {
      throw new LocalError(`${source} holds ${article(what)}, not a certificate signing request`);
    }
    throw new LocalError(`${source} does not hold a certificate signing request (PEM or DER)`);
  }
  if (block.der === undefined) {
    throw new LocalError(`${source} holds an unreadable certificate signing request (bad base64)`);
  }
  return block.der;
}

const HASHES: Readonly<Record<string, string>> = {
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

function checkSignature(
  csr: X509.Pkcs10CertificateRequest,
  der: Buffer,
  publicKey: KeyObject,
  source: string,
): void {
  // @peculiar/x509 types these with DOM WebCrypto interfaces, which this node-only build lacks.
  const algorithm = csr.signatureAlgorithm as unknown as {
    name: string;
    hash?: { name?: string };
    saltLength?: number;
  };
  const hash = HASHES[algorithm.hash?.name ?? ''];
  const supported =
    hash !== undefined &&
    ['RSASSA-PKCS1-v1_5', 'RSA-PSS', 'ECDSA'].includes(algorithm.name) &&
    (algorithm.name === 'ECDSA') === (publicKey.asymmetricKeyType === 'ec');
  if (!supported) {
    throw new LocalError(`${source} is signed with an unsupported algorithm (${algorithm.name})`);
  }
  let valid: boolean;
  try {
    // certificationRequestInfo is the first element of the outer SEQUENCE, signed as encoded.
    const outer = expectTag(readDerElement(der, 0), DER_SEQUENCE);
    const info = expectTag(derFirstChild(der, outer), DER_SEQUENCE);
    const pss = algorithm.name === 'RSA-PSS';
    valid = verify(
      hash,
      derElementBytes(der, info),
      pss
        ? {
            key: publicKey,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: algorithm.saltLength ?? 32,
          }
        : publicKey,
      Buffer.from(csr.signature),
    );
  } catch (error) {
    throw new LocalError(`${source}: cannot check the CSR signature: ${messageOf(error)}`, {
      cause: error,
    });
  }
  if (!valid) {
    throw new LocalError(
      `${source} holds a certificate signing request whose signature does not verify`,
    );
  }
}

function subjectAltNames(
  x509: X509Module,
  csr: X509.Pkcs10CertificateRequest,
  source: string,
): X509.JsonGeneralName[] {
  const extensions = csr.getExtensions(OID_SUBJECT_ALT_NAME);
  try {
    return extensions.flatMap((extension) =>
      new x509.SubjectAlternativeNameExtension(extension.rawData).names.toJSON(),
    );
  } catch (error) {
    // @peculiar/x509 throws on name forms it cannot represent (X.400, EDI party).
    throw new LocalError(`${source} requests a subject alternative name ACME cannot validate`, {
      cause: error,
    });
  }
}

function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}
