/**
 * PKCS#10 certificate signing requests (RFC 2986): the one acmecli sends at finalize, and one a
 * user brings with `--csr`. Both directions go through the project's own DER layer and
 * node:crypto, which keeps a general ASN.1 library out of every `issue`.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Identifier } from './identifiers.js';
import { LocalError, UsageError, messageOf } from '../errors.js';
import {
  DER_BOOLEAN,
  DER_NULL,
  DER_OCTET_STRING,
  DER_SEQUENCE,
  DER_SET,
  derChildren,
  derElementBytes,
  derElementContent,
  derImplicit,
  derInteger,
  derOid,
  derSequence,
  derSet,
  expectTag,
  decodeDerOid,
  readDerBitStringBytes,
  readDerDocument,
  readDerElement,
  readDerOid,
  readDerSmallInteger,
  readDerString,
  type DerElement,
} from './der.js';
import { parseIdentifier } from './identifiers.js';
import { canonicalIp, ipFromBytes } from './ip-address.js';
import { encodePem, findPemBlocks } from './pem.js';
import {
  GENERAL_NAME_DNS,
  GENERAL_NAME_IP,
  OID_COMMON_NAME,
  OID_SUBJECT_ALT_NAME,
  encodeName,
  encodeSubjectAltName,
  signDer,
  signingAlgorithmFor,
  subjectPublicKeyInfo,
} from './pkix.js';

/** PKCS#9 extensionRequest: the attribute that carries the requested extensions. */
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
/** RFC 5280 upper bound for commonName; a longer first name simply goes without a CN. */
const MAX_COMMON_NAME_LENGTH = 64;
/** Context tag [0] of CertificationRequestInfo.attributes, constructed (IMPLICIT SET OF). */
const ATTRIBUTES_TAG = 0xa0;

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
  const commonName = identifiers.find((identifier) => identifier.type === 'dns')?.value;
  const useCommonName = commonName !== undefined && commonName.length <= MAX_COMMON_NAME_LENGTH;
  const subjectAltName = encodeSubjectAltName(identifiers, !useCommonName);
  const algorithm = signingAlgorithmFor(key);
  const extensionRequest = derSequence(derOid(OID_EXTENSION_REQUEST), derSet(derSequence(subjectAltName)));
  const requestInfo = derSequence(
    derInteger(0),
    encodeName(useCommonName ? commonName : undefined),
    subjectPublicKeyInfo(key),
    derImplicit(0, extensionRequest, true),
  );
  const der = signDer(requestInfo, key, algorithm);
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
  const request = readCertificationRequest(der, source);
  checkSignature(request, source);

  const identifiers: Identifier[] = [];
  const add = (identifier: Identifier): void => {
    const known = identifiers.some(
      (existing) => existing.type === identifier.type && existing.value === identifier.value,
    );
    if (!known) identifiers.push(identifier);
  };
  for (const commonName of request.commonNames) {
    // A CN holding an IP address or free text is not an identifier; RFC 8738 needs IPs in SANs.
    // One made of host-name characters is, and meets the rules of -d (no `_`, for one).
    if (canonicalIp(commonName) === undefined && /^(\*\.)?[A-Za-z0-9_.-]+$/.test(commonName)) {
      add(requestedDnsName(commonName, source, 'its CN'));
    }
  }
  for (const name of request.subjectAltNames) {
    if (name.kind === 'dns') {
      add(requestedDnsName(name.value, source, 'a subjectAltName'));
      continue;
    }
    if (name.kind === 'ip') {
      const ip = ipFromBytes(name.bytes);
      if (ip === undefined) throw new LocalError(`${source} requests a malformed IP address`);
      add({ type: 'ip', value: ip });
      continue;
    }
    throw new LocalError(`${source} requests ${name.description}, which ACME cannot validate`);
  }
  if (identifiers.length === 0) {
    throw new LocalError(`${source} requests no DNS name or IP address`);
  }
  return { identifiers, publicKey: request.publicKey, der };
}

/**
 * A name from the CSR, held to the rules `-d` names meet (parseIdentifier), and written as an
 * order writes it: the names of a --csr are ordered, handed to hooks as CERTBOT_DOMAIN and put in
 * DNS updates exactly like -d names, so a name with a newline, `_` or a trailing dot is refused
 * here (UsageError: the user's input) rather than trusted because it came in a file. The only
 * normalisation is ASCII case, which CAs apply to CSR names too.
 */
function requestedDnsName(text: string, source: string, where: string): Identifier {
  const refuse = (input: string, why: string): never => {
    throw new UsageError(
      `${source} requests the name ${JSON.stringify(input)} (${where}), which acmecli cannot order: ${why}`,
    );
  };
  const identifier = parseIdentifier(text, refuse);
  if (identifier.type !== 'dns') refuse(text, 'an IP address belongs in an IP address subjectAltName');
  if (identifier.value !== text.replace(/[A-Z]/g, (c) => c.toLowerCase())) {
    refuse(text, `it would be ordered as "${identifier.value}", which is not the name the CSR asks for`);
  }
  return identifier;
}

function csrDer(input: string | Buffer, source: string): Buffer {
  const looksLikeDer = Buffer.isBuffer(input) && input[0] === DER_SEQUENCE && !input.includes('-----BEGIN');
  if (looksLikeDer) return input;
  const text = Buffer.isBuffer(input) ? input.toString('latin1') : input;
  const blocks = findPemBlocks(text);
  const block = blocks.find(
    (candidate) => candidate.label === 'CERTIFICATE REQUEST' || candidate.label === 'NEW CERTIFICATE REQUEST',
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

// ---------------------------------------------------------------------------------------------
// Reading the request

/** A subjectAltName entry: the two forms ACME validates, or a description of another form. */
type RequestedName =
  { kind: 'dns'; value: string } | { kind: 'ip'; bytes: Buffer } | { kind: 'other'; description: string };

type SignatureHash = 'sha256' | 'sha384' | 'sha512';

/** How to check the signature, or why it cannot be checked. */
type SignatureScheme =
  | { supported: true; name: string; keyType: 'rsa' | 'ec'; hash: SignatureHash; pssSaltLength?: number }
  | { supported: false; name: string };

interface CertificationRequest {
  /** CertificationRequestInfo exactly as encoded: the signed bytes. */
  signedBytes: Buffer;
  commonNames: string[];
  subjectAltNames: RequestedName[];
  publicKey: KeyObject;
  scheme: SignatureScheme;
  signature: Buffer;
}

/**
 * CertificationRequest ::= SEQUENCE { CertificationRequestInfo, AlgorithmIdentifier, BIT STRING },
 * CertificationRequestInfo ::= SEQUENCE { version 0, subject, subjectPKInfo, [0] attributes }.
 * Any structural fault is one message: the user can only replace the file.
 */
function readCertificationRequest(der: Buffer, source: string): CertificationRequest {
  try {
    const outer = expectTag(readDerDocument(der), DER_SEQUENCE);
    const [info, algorithm, signature, ...extraOuter] = derChildren(der, outer);
    if (info === undefined || algorithm === undefined || signature === undefined || extraOuter.length > 0) {
      throw new Error('a CertificationRequest has three elements');
    }
    const [version, subject, publicKeyInfo, attributes, ...extraInfo] = derChildren(der, expectTag(info, DER_SEQUENCE));
    if (version === undefined || subject === undefined || publicKeyInfo === undefined || extraInfo.length > 0) {
      throw new Error('a CertificationRequestInfo has four elements');
    }
    if (readDerSmallInteger(der, version) !== 0) throw new Error('unknown CertificationRequest version');
    return {
      signedBytes: derElementBytes(der, info),
      commonNames: readCommonNames(der, expectTag(subject, DER_SEQUENCE)),
      // Some encoders leave out an empty attribute set, though RFC 2986 makes it mandatory.
      subjectAltNames: attributes === undefined ? [] : readRequestedNames(der, expectTag(attributes, ATTRIBUTES_TAG)),
      publicKey: createPublicKey({
        key: derElementBytes(der, expectTag(publicKeyInfo, DER_SEQUENCE)),
        format: 'der',
        type: 'spki',
      }),
      scheme: readSignatureScheme(der, algorithm),
      signature: readDerBitStringBytes(der, signature),
    };
  } catch (error) {
    throw new LocalError(`${source} holds an unreadable certificate signing request`, { cause: error });
  }
}

/** Every commonName of a Name, in order; values that are not strings are no names. */
function readCommonNames(der: Buffer, name: DerElement): string[] {
  const names: string[] = [];
  for (const relativeName of derChildren(der, name)) {
    for (const attribute of derChildren(der, expectTag(relativeName, DER_SET))) {
      const [type, value] = derChildren(der, expectTag(attribute, DER_SEQUENCE));
      if (type === undefined || value === undefined) throw new Error('an attribute needs a type and a value');
      if (readDerOid(der, type) !== OID_COMMON_NAME) continue;
      const text = readDerString(der, value);
      if (text !== undefined) names.push(text);
    }
  }
  return names;
}

/** The subjectAltName entries of every extensionRequest attribute; other attributes are ignored. */
function readRequestedNames(der: Buffer, attributes: DerElement): RequestedName[] {
  const names: RequestedName[] = [];
  for (const attribute of derChildren(der, attributes)) {
    const [type, values] = derChildren(der, expectTag(attribute, DER_SEQUENCE));
    if (type === undefined || values === undefined) throw new Error('an attribute needs a type and values');
    if (readDerOid(der, type) !== OID_EXTENSION_REQUEST) continue;
    for (const extensions of derChildren(der, expectTag(values, DER_SET))) {
      for (const extension of derChildren(der, expectTag(extensions, DER_SEQUENCE))) {
        const [id, ...rest] = derChildren(der, expectTag(extension, DER_SEQUENCE));
        const value = rest.at(-1);
        const criticalOk = rest.length === 1 || (rest.length === 2 && rest[0]?.tag === DER_BOOLEAN);
        if (id === undefined || value === undefined || !criticalOk) throw new Error('malformed extension');
        if (readDerOid(der, id) !== OID_SUBJECT_ALT_NAME) continue;
        names.push(...readGeneralNames(derElementContent(der, expectTag(value, DER_OCTET_STRING))));
      }
    }
  }
  return names;
}

/** GeneralNames (RFC 5280 4.2.1.6): each choice is a context tag. */
function readGeneralNames(value: Buffer): RequestedName[] {
  return derChildren(value, expectTag(readDerDocument(value), DER_SEQUENCE)).map((name) => {
    const content = derElementContent(value, name);
    const quoted = (): string => JSON.stringify(content.toString('latin1'));
    switch (name.tag) {
      case 0x80 | GENERAL_NAME_DNS:
        return { kind: 'dns', value: content.toString('latin1') };
      case 0x80 | GENERAL_NAME_IP:
        return { kind: 'ip', bytes: content };
      case 0x81:
        return { kind: 'other', description: `an email name (${quoted()})` };
      case 0x86:
        return { kind: 'other', description: `a URI name (${quoted()})` };
      case 0x88:
        return { kind: 'other', description: `a registered ID name (${decodeDerOid(content)})` };
      case 0xa0: {
        const [typeId] = derChildren(value, name);
        if (typeId === undefined) throw new Error('an otherName needs a type');
        return { kind: 'other', description: `an otherName name (${readDerOid(value, typeId)})` };
      }
      case 0xa3:
        return { kind: 'other', description: 'an X.400 address name' };
      case 0xa4:
        return { kind: 'other', description: 'a directory name' };
      case 0xa5:
        return { kind: 'other', description: 'an EDI party name' };
      default:
        return { kind: 'other', description: 'a form of subject alternative name' };
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Signature

const PKCS1_SCHEMES: Readonly<Record<string, { name: string; hash: SignatureHash }>> = {
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', hash: 'sha512' },
};
const ECDSA_SCHEMES: Readonly<Record<string, { name: string; hash: SignatureHash }>> = {
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', hash: 'sha512' },
};
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const HASHES: Readonly<Record<string, { name: string; hash?: SignatureHash }>> = {
  '1.3.14.3.2.26': { name: 'SHA-1' },
  '2.16.840.1.101.3.4.2.4': { name: 'SHA-224' },
  '2.16.840.1.101.3.4.2.1': { name: 'SHA-256', hash: 'sha256' },
  '2.16.840.1.101.3.4.2.2': { name: 'SHA-384', hash: 'sha384' },
  '2.16.840.1.101.3.4.2.3': { name: 'SHA-512', hash: 'sha512' },
};
/** Names for the error message; anything else is shown as its OID. */
const UNSUPPORTED_SCHEMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '2.16.840.1.101.3.4.3.2': 'dsa-with-SHA256',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};
/** The curves ECDSA signatures are checked on, by node's name for them. */
const ECDSA_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

function readSignatureScheme(der: Buffer, algorithm: DerElement): SignatureScheme {
  const [id, parameters, ...extra] = derChildren(der, expectTag(algorithm, DER_SEQUENCE));
  if (id === undefined || extra.length > 0) throw new Error('malformed AlgorithmIdentifier');
  const oid = readDerOid(der, id);
  const pkcs1 = PKCS1_SCHEMES[oid];
  // RFC 4055 5: the parameters are NULL, though some encoders leave them out.
  if (pkcs1 !== undefined && (parameters === undefined || isDerNull(parameters))) {
    return { supported: true, keyType: 'rsa', ...pkcs1 };
  }
  const ecdsa = ECDSA_SCHEMES[oid];
  if (ecdsa !== undefined && parameters === undefined) return { supported: true, keyType: 'ec', ...ecdsa };
  if (oid === OID_RSASSA_PSS && parameters !== undefined) return readPssScheme(der, parameters);
  return {
    supported: false,
    name: UNSUPPORTED_SCHEMES[oid] ?? PKCS1_SCHEMES[oid]?.name ?? ECDSA_SCHEMES[oid]?.name ?? oid,
  };
}

function isDerNull(element: DerElement): boolean {
  return element.tag === DER_NULL && element.end === element.contentStart;
}

/**
 * RSASSA-PSS-params (RFC 4055 3.1), every field optional with SHA-1 defaults. node:crypto uses
 * the signature's hash for MGF1 too, so only that combination (what every tool writes) is
 * checked; trailerField must be 1.
 */
function readPssScheme(der: Buffer, parameters: DerElement): SignatureScheme {
  let hashOid = '1.3.14.3.2.26';
  let maskHashOid = '1.3.14.3.2.26';
  let saltLength = 20;
  let trailerField = 1;
  for (const field of derChildren(der, expectTag(parameters, DER_SEQUENCE))) {
    const inner = readDerElement(der, field.contentStart);
    if (inner.end !== field.end) throw new Error('malformed RSASSA-PSS parameter');
    switch (field.tag) {
      case 0xa0:
        hashOid = readHashAlgorithmOid(der, inner);
        break;
      case 0xa1: {
        const [mgf, mgfHash, ...extra] = derChildren(der, expectTag(inner, DER_SEQUENCE));
        if (mgf === undefined || extra.length > 0) throw new Error('malformed MaskGenAlgorithm');
        if (readDerOid(der, mgf) !== OID_MGF1 || mgfHash === undefined) {
          return { supported: false, name: 'RSASSA-PSS with a mask generation function other than MGF1' };
        }
        maskHashOid = readHashAlgorithmOid(der, mgfHash);
        break;
      }
      case 0xa2:
        saltLength = readDerSmallInteger(der, inner);
        break;
      case 0xa3:
        trailerField = readDerSmallInteger(der, inner);
        break;
      default:
        throw new Error('unknown RSASSA-PSS parameter');
    }
  }
  const hash = HASHES[hashOid];
  const hashName = hash?.name ?? hashOid;
  const name = `RSASSA-PSS with ${hashName}`;
  if (hash?.hash === undefined || trailerField !== 1) return { supported: false, name };
  if (maskHashOid !== hashOid) {
    return { supported: false, name: `${name} and MGF1 with ${HASHES[maskHashOid]?.name ?? maskHashOid}` };
  }
  return { supported: true, name, keyType: 'rsa', hash: hash.hash, pssSaltLength: saltLength };
}

/** The OID of a hash AlgorithmIdentifier, whose parameters are NULL or absent (RFC 4055 2.1). */
function readHashAlgorithmOid(der: Buffer, algorithm: DerElement): string {
  const [id, parameters, ...extra] = derChildren(der, expectTag(algorithm, DER_SEQUENCE));
  if (id === undefined || extra.length > 0 || (parameters !== undefined && !isDerNull(parameters))) {
    throw new Error('malformed hash AlgorithmIdentifier');
  }
  return readDerOid(der, id);
}

function checkSignature(request: CertificationRequest, source: string): void {
  const { scheme, publicKey } = request;
  if (!scheme.supported) {
    throw new LocalError(`${source} is signed with an unsupported algorithm (${scheme.name})`);
  }
  const keyType = publicKey.asymmetricKeyType ?? 'unknown';
  const matches =
    scheme.keyType === 'ec'
      ? keyType === 'ec'
      : keyType === 'rsa' || (keyType === 'rsa-pss' && scheme.pssSaltLength !== undefined);
  if (!matches) {
    throw new LocalError(`${source} is signed with ${scheme.name}, which does not fit its ${keyType} public key`);
  }
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  if (keyType === 'ec' && (curve === undefined || !ECDSA_CURVES.has(curve))) {
    throw new LocalError(`${source} holds an EC key on an unsupported curve (${curve ?? 'explicit parameters'})`);
  }
  let valid: boolean;
  try {
    const key =
      scheme.pssSaltLength === undefined
        ? { key: publicKey, dsaEncoding: 'der' as const }
        : { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.pssSaltLength };
    valid = verify(scheme.hash, request.signedBytes, key, request.signature);
  } catch (error) {
    throw new LocalError(`${source}: cannot check the CSR signature: ${messageOf(error)}`, {
      cause: error,
    });
  }
  if (!valid) {
    throw new LocalError(`${source} holds a certificate signing request whose signature does not verify`);
  }
}

function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}
