/**
 * @peculiar/x509 for tests and benchmark fixtures only: an implementation independent of
 * src/crypto to cross-check what acmecli writes, and a quick way to mint test certificates.
 * acmecli itself never loads it (its load costs time and memory on every run).
 *
 * reflect-metadata must be evaluated before @peculiar/x509 (its dependency injection container
 * checks at load time); ESM evaluates imports in order.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

/** WebCrypto views of a KeyObject, and the SHA-2 signature algorithm matching its size. */
export interface SigningKeys {
  keys: webcrypto.CryptoKeyPair;
  signingAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;
}

/** RSA: PKCS#1 v1.5 with SHA-256; ECDSA: the hash matching the curve (P-384 → SHA-384). */
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
