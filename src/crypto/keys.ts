/**
 * Account and certificate keys. Keys are node:crypto KeyObjects everywhere; this module is the
 * only place that decides which keys acmecli accepts (RSA of at least 2048 bits, EC on P-256 or
 * P-384: what RFC 8555 CAs accept for both account keys and certificate keys).
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { LocalError, UsageError } from '../errors.js';
import { findPemBlocks, type PemBlock } from './pem.js';

export type KeyType = 'ec256' | 'ec384' | 'rsa2048' | 'rsa3072' | 'rsa4096';
export const KEY_TYPES: readonly KeyType[] = ['ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096'];

/**
 * Spellings other clients use, after lowercasing and removing '-' and '_'. Bare `rsa` means 2048
 * bits because that is certbot's `--rsa-key-size` default; `ecdsa` means P-256 because that is
 * certbot's `--elliptic-curve` default.
 */
const KEY_TYPE_ALIASES: Readonly<Record<string, KeyType>> = {
  ec256: 'ec256',
  p256: 'ec256',
  ecp256: 'ec256',
  ecdsa: 'ec256',
  secp256r1: 'ec256',
  prime256v1: 'ec256',
  ec384: 'ec384',
  p384: 'ec384',
  ecp384: 'ec384',
  secp384r1: 'ec384',
  rsa: 'rsa2048',
  rsa2048: 'rsa2048',
  '2048': 'rsa2048',
  rsa3072: 'rsa3072',
  '3072': 'rsa3072',
  rsa4096: 'rsa4096',
  '4096': 'rsa4096',
};

/** Parses a key type flag value, accepting certbot, lego and acme.sh spellings. */
export function parseKeyType(text: string, flag: string): KeyType {
  const normalised = text.trim().toLowerCase().replace(/[-_]/g, '');
  const type = Object.hasOwn(KEY_TYPE_ALIASES, normalised) ? KEY_TYPE_ALIASES[normalised] : undefined;
  if (type === undefined) {
    throw new UsageError(`invalid key type "${text}" for ${flag}: use ec256, ec384, rsa2048, rsa3072 or rsa4096`);
  }
  return type;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh private key; RSA keys use e = 65537. */
export async function generateKey(type: KeyType): Promise<KeyObject> {
  switch (type) {
    case 'ec256':
      return (await generateKeyPairAsync('ec', { namedCurve: 'P-256' })).privateKey;
    case 'ec384':
      return (await generateKeyPairAsync('ec', { namedCurve: 'P-384' })).privateKey;
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096': {
      const modulusLength = Number(type.slice(3));
      return (await generateKeyPairAsync('rsa', { modulusLength, publicExponent: 0x10001 })).privateKey;
    }
  }
}

/** PKCS#8 PEM, the format every TLS server and openssl version reads. */
export function exportPrivateKeyPem(key: KeyObject): string {
  if (key.type !== 'private') throw new Error('exportPrivateKeyPem needs a private key');
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const PRIVATE_KEY_FORMATS: Readonly<Record<string, 'pkcs8' | 'pkcs1' | 'sec1'>> = {
  'PRIVATE KEY': 'pkcs8',
  'RSA PRIVATE KEY': 'pkcs1',
  'EC PRIVATE KEY': 'sec1',
};
const OTHER_PRIVATE_KEY_LABELS = new Set(['ENCRYPTED PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'DSA PRIVATE KEY']);
const NOT_A_KEY: Readonly<Record<string, string>> = {
  CERTIFICATE: 'a certificate',
  'TRUSTED CERTIFICATE': 'a certificate',
  'X509 CERTIFICATE': 'a certificate',
  'CERTIFICATE REQUEST': 'a certificate signing request',
  'NEW CERTIFICATE REQUEST': 'a certificate signing request',
  'PUBLIC KEY': 'a public key',
  'RSA PUBLIC KEY': 'a public key',
};
const SUPPORTED_KEYS = 'use an RSA key of at least 2048 bits or an EC key on P-256 or P-384';

/**
 * Loads a private key from PEM text: PKCS#8, PKCS#1 (RSA) or SEC1 (EC, also after the EC
 * PARAMETERS block `openssl ecparam -genkey` writes), with any text around the block. A file that
 * also holds certificates (a combined key + chain file) is accepted; more than one key is not.
 * Messages name `source` and what was found, never key material.
 */
export function loadPrivateKeyPem(pem: string, source: string): KeyObject {
  const blocks = findPemBlocks(pem);
  const keyBlocks = blocks.filter(
    (block) => Object.hasOwn(PRIVATE_KEY_FORMATS, block.label) || OTHER_PRIVATE_KEY_LABELS.has(block.label),
  );
  const [keyBlock, extra] = keyBlocks;
  if (keyBlock === undefined) {
    const found = blocks.map((block) => NOT_A_KEY[block.label]).find((what) => what !== undefined);
    if (found !== undefined) throw new LocalError(`${source} holds ${found}, not a private key`);
    throw new LocalError(`${source} does not hold a PEM private key`);
  }
  if (extra !== undefined) throw new LocalError(`${source} holds more than one private key`);
  const key = decodePrivateKey(keyBlock, source);
  checkSupported(key, source);
  return key;
}

function decodePrivateKey(block: PemBlock, source: string): KeyObject {
  const legacyEncrypted = /ENCRYPTED/i.test(block.headers['Proc-Type'] ?? '');
  if (block.label === 'ENCRYPTED PRIVATE KEY' || legacyEncrypted) {
    throw new LocalError(`${source} holds an encrypted private key`, {
      hint: 'acmecli needs it unencrypted: openssl pkey -in KEY -out PLAIN-KEY, then chmod 600',
    });
  }
  if (block.label === 'OPENSSH PRIVATE KEY') {
    throw new LocalError(`${source} holds an OpenSSH private key, not a PEM private key`, {
      hint: 'convert a copy with ssh-keygen -p -m PKCS8 -f COPY',
    });
  }
  if (block.label === 'DSA PRIVATE KEY') {
    throw new LocalError(`${source} holds an unsupported DSA private key: ${SUPPORTED_KEYS}`);
  }
  const unreadable = `${source} holds an unreadable private key (damaged PEM or DER)`;
  if (block.der === undefined) throw new LocalError(unreadable);
  const labelled = PRIVATE_KEY_FORMATS[block.label] ?? 'pkcs8';
  // Some tools write PKCS#8 under a PKCS#1 or SEC1 label; trying the others costs nothing.
  const others = (['pkcs8', 'pkcs1', 'sec1'] as const).filter((type) => type !== labelled);
  const formats = [labelled, ...others];
  let firstError: unknown;
  for (const type of formats) {
    try {
      return createPrivateKey({ key: block.der, format: 'der', type });
    } catch (error) {
      firstError ??= error;
    }
  }
  // node's message is an OpenSSL reason ("asn1 encoding routines::..."), never key bytes.
  throw new LocalError(unreadable, { cause: firstError });
}

function checkSupported(key: KeyObject, source: string): void {
  const details = key.asymmetricKeyDetails ?? {};
  const keyType = key.asymmetricKeyType ?? 'unknown';
  if (keyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits >= 2048) return;
    throw new LocalError(`${source} holds an unsupported ${bits}-bit RSA key: ${SUPPORTED_KEYS}`);
  }
  if (keyType === 'ec') {
    if (curveKeyType(details.namedCurve) !== undefined) return;
    const curve = details.namedCurve ?? 'explicit-parameter';
    throw new LocalError(`${source} holds an unsupported EC key on ${curve}: ${SUPPORTED_KEYS}`);
  }
  const name = keyType === 'ed25519' || keyType === 'ed448' ? keyType.replace('ed', 'Ed') : keyType;
  throw new LocalError(`${source} holds an unsupported ${name} key: ${SUPPORTED_KEYS}`);
}

function curveKeyType(namedCurve: string | undefined): 'ec256' | 'ec384' | undefined {
  if (namedCurve === 'prime256v1' || namedCurve === 'P-256') return 'ec256';
  if (namedCurve === 'secp384r1' || namedCurve === 'P-384') return 'ec384';
  return undefined;
}

/** The KeyType of a private or public key; undefined for keys acmecli would not generate. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') return curveKeyType(details.namedCurve);
  if (key.asymmetricKeyType !== 'rsa') return undefined;
  switch (details.modulusLength) {
    case 2048:
      return 'rsa2048';
    case 3072:
      return 'rsa3072';
    case 4096:
      return 'rsa4096';
    default:
      return undefined;
  }
}

/** The JWS algorithm RFC 8555 clients use for this account key (RS256 for any RSA size). */
export function jwsAlgorithmFor(key: KeyObject): 'ES256' | 'ES384' | 'RS256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  const curve = curveKeyType(key.asymmetricKeyDetails?.namedCurve);
  if (curve === 'ec256') return 'ES256';
  if (curve === 'ec384') return 'ES384';
  // loadPrivateKeyPem and generateKey never produce such a key: reaching this is a bug.
  throw new Error(`no JWS algorithm for a ${key.asymmetricKeyType ?? 'unknown'} key`);
}

/** The public half of a private key, or the key itself when it is already public. */
export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** True when both keys (private or public) have the same public key. */
export function publicKeysEqual(a: KeyObject, b: KeyObject): boolean {
  const spki = (key: KeyObject) => publicKeyOf(key).export({ type: 'spki', format: 'der' });
  return spki(a).equals(spki(b));
}
