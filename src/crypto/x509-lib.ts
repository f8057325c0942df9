/**
 * The one place @peculiar/x509 is loaded. It needs a Reflect polyfill before it is evaluated (its
 * dependency injection container checks at load time) and a WebCrypto provider; ESM evaluates
 * imports in order, so importing x509 through this module guarantees both.
 */
import { createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';

export type X509Module = typeof import('@peculiar/x509');

let loading: Promise<X509Module> | undefined;

/**
 * @peculiar/x509 on first use: its load-time set-up (hundreds of ASN.1 schema classes) costs more
 * than a whole `renew` with nothing due, which never needs it.
 */
export function loadX509(): Promise<X509Module> {
  loading ??= import('reflect-metadata').then(async () => {
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  });
  return loading;
}

/** WebCrypto views of a KeyObject, and the SHA-2 signature algorithm matching its size. */
export interface SigningKeys {
  keys: webcrypto.CryptoKeyPair;
  signingAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;
}

/**
 * RSA signs with PKCS#1 v1.5 SHA-256; ECDSA with the hash matching the curve (P-384 → SHA-384),
 * as RFC 5480 recommends and CAs expect.
 */
export function signingKeysFor(privateKey: KeyObject): SigningKeys {
  const publicKey = createPublicKey(privateKey);
  if (privateKey.asymmetricKeyType === 'rsa') {
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return {
      keys: {
        privateKey: privateKey.toCryptoKey(algorithm, false, ['sign']),
        publicKey: publicKey.toCryptoKey(algorithm, true, ['verify']),
      },
      signingAlgorithm: algorithm,
    };
  }
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1')) {
    const namedCurve = curve === 'prime256v1' ? 'P-256' : 'P-384';
    const hash = curve === 'prime256v1' ? 'SHA-256' : 'SHA-384';
    return {
      keys: {
        privateKey: privateKey.toCryptoKey({ name: 'ECDSA', namedCurve }, false, ['sign']),
        publicKey: publicKey.toCryptoKey({ name: 'ECDSA', namedCurve }, true, ['verify']),
      },
      signingAlgorithm: { name: 'ECDSA', hash },
    };
  }
  throw new Error(`cannot sign with a ${privateKey.asymmetricKeyType ?? 'unknown'} key`);
}
