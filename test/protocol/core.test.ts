/**
 * The protocol core against a real Pebble with its default hostile settings (5% of nonces
 * rejected, 50% authorization reuse).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeClient } from '../../src/acme/client.js';
import { obtainCertificate } from '../../src/acme/obtain.js';
import { Transport } from '../../src/acme/transport.js';
import { AcmeProblemError, AccountDoesNotExistError, ExternalAccountRequiredError } from '../../src/acme/problem.js';
import { ValidationError } from '../../src/acme/validation-error.js';
import { REVOCATION_REASONS } from '../../src/acme/types.js';
import { generateKey, keyTypeOf } from '../../src/crypto/keys.js';
import { parseCertificate, splitPemChain } from '../../src/crypto/certificate.js';
import { startPebble, type PebbleHandle } from '../helpers/pebble.js';
import {
  challtestsrvDnsSolver,
  chooseHttpOrDns,
  chooseOnly,
  startTestHttpSolver,
  type TestHttpSolver,
} from '../helpers/test-solvers.js';
import { ExitCode } from '../../src/errors.js';
import { hintFor } from '../../src/cli/hints.js';

let pebble: PebbleHandle;
let transport: Transport;
let http: TestHttpSolver;

beforeAll(async () => {
  pebble = await startPebble({ env: { PEBBLE_ALTERNATE_ROOTS: '1' } });
  transport = new Transport({ caBundlePem: pebble.caBundlePem, userAgent: 'acmecli-test' });
  http = await startTestHttpSolver(pebble.httpPort);
});

afterAll(async () => {
  await http?.close();
  await transport?.close();
  await pebble?.stop();
});

async function registeredClient(keyType: 'ec256' | 'rsa3072' = 'ec256'): Promise<AcmeClient> {
  const client = new AcmeClient({
    directoryUrl: pebble.directoryUrl,
    accountKey: await generateKey(keyType),
    transport,
  });
  await client.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:admin@example.test'] });
  return client;
}

describe('accounts', () => {
  it('creates, finds, updates and deactivates an account', async () => {
    const key = await generateKey('ec256');
    const client = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key, transport });
    const created = await client.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:a@example.test'] });
    expect(created.created).toBe(true);
    expect(created.account.status).toBe('valid');
    expect(created.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);

    const again = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: key, transport });
    const found = await again.findAccount();
    expect(found.url).toBe(created.url);
    expect(found.created).toBe(false);

    const updated = await again.updateAccount({ contact: ['mailto:b@example.test'] });
    expect(updated.contact).toEqual(['mailto:b@example.test']);

    const deactivated = await again.deactivateAccount();
    expect(deactivated.status).toBe('deactivated');
    const error = await again
      .newOrder({ identifiers: [{ type: 'dns', value: 'x.example.test' }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProblemError);
    expect((error as AcmeProblemError).code).toBe('unauthorized');
  });

  it('reports an unknown key as accountDoesNotExist with onlyReturnExisting', async () => {
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey: await generateKey('ec256'),
      transport,
    });
    const error = await client.findAccount().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccountDoesNotExistError);
  });

  it('rolls the account key over and issues with the new key', async () => {
    const client = await registeredClient('rsa3072');
    const accountUrl = client.accountUrl;
    const newKey = await generateKey('ec256');
    await client.changeKey(newKey);
    expect(client.accountKey).toBe(newKey);
    const withNewKey = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: newKey, transport });
    expect((await withNewKey.findAccount()).url).toBe(accountUrl);
    const result = await obtainCertificate(withNewKey, {
      identifiers: [{ type: 'dns', value: 'rollover.example.test' }],
      certificateKey: await generateKey('ec256'),
      chooseSolver: chooseOnly('http-01', http),
    });
    expect(parseCertificate(result.certificatePem).identifiers).toEqual([
      { type: 'dns', value: 'rollover.example.test' },
    ]);
  });
});

describe('issuance', () => {
  it('issues for several names, a wildcard and an IP address (http-01 + dns-01), P-256 key', async () => {
    const client = await registeredClient();
    const dns = challtestsrvDnsSolver(pebble.challtestsrv);
    const certificateKey = await generateKey('ec256');
    const identifiers = [
      { type: 'dns' as const, value: 'www.multi.example.test' },
      { type: 'dns' as const, value: 'multi.example.test' },
      { type: 'dns' as const, value: '*.multi.example.test' },
      { type: 'ip' as const, value: '127.0.0.1' },
    ];
    const events: string[] = [];
    const result = await obtainCertificate(client, {
      identifiers,
      certificateKey,
      chooseSolver: chooseHttpOrDns(http, dns),
      onEvent: (e) => events.push(e.type),
    });
    const leaf = parseCertificate(result.certificatePem);
    expect(leaf.identifiers).toEqual(expect.arrayContaining(identifiers));
    expect(leaf.identifiers).toHaveLength(4);
    expect(splitPemChain(result.fullchainPem, 'fullchain').length).toBeGreaterThanOrEqual(2);
    expect(result.fullchainPem.startsWith(result.certificatePem)).toBe(true);
    expect(dns.presented).toContain('_acme-challenge.multi.example.test');
    expect(events).toContain('finalizing');
    expect(http.served.size).toBe(0);
  });

  it('issues with an RSA 3072 certificate key (Certigna accepts only RSA 3072)', async () => {
    const client = await registeredClient();
    const certificateKey = await generateKey('rsa3072');
    const result = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: 'rsa.example.test' }],
      certificateKey,
      chooseSolver: chooseOnly('http-01', http),
    });
    const leaf = parseCertificate(result.certificatePem);
    expect(keyTypeOf(leaf.publicKey)).toBe('rsa3072');
  });

  it('selects an alternate chain by issuer name', async () => {
    const client = await registeredClient();
    const roots = await pebble.rootCertificates();
    expect(roots.length).toBeGreaterThanOrEqual(2);
    const alternateRootName = parseCertificate(roots[1] as string).subject.replace(/^.*CN=/, '');
    const certificateKey = await generateKey('ec256');
    const result = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: 'chain.example.test' }],
      certificateKey,
      chooseSolver: chooseOnly('http-01', http),
      preferredChain: alternateRootName,
    });
    expect(result.chainIssuer).toBe(alternateRootName);
    const defaultResult = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: 'chain.example.test' }],
      certificateKey,
      chooseSolver: chooseOnly('http-01', http),
    });
    expect(defaultResult.chainIssuer).not.toBe(alternateRootName);
  });

  it('turns a failed validation into a ValidationError naming the identifier, and cleans up', async () => {
    const client = await registeredClient();
    const lying = {
      name: 'lying',
      cleaned: 0,
      async present() {},
      async cleanUp() {
        this.cleaned++;
      },
    };
    const error = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: 'fails.example.test' }],
      certificateKey: await generateKey('ec256'),
      chooseSolver: chooseOnly('http-01', lying),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).exitCode).toBe(ExitCode.validation);
    expect((error as Error).message).toMatch(
      /^validation failed for fails\.example\.test \(http-01\): (unauthorized|connection)/,
    );
    expect(lying.cleaned).toBe(1);
  });

  it('fails before ordering when a wildcard has no dns-01 solver', async () => {
    const client = await registeredClient();
    const error = await obtainCertificate(client, {
      identifiers: [{ type: 'dns', value: '*.nodns.example.test' }],
      certificateKey: await generateKey('ec256'),
      chooseSolver: chooseOnly('http-01', http),
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/wildcard, which only dns-01 can validate/);
    expect((error as { exitCode: number }).exitCode).toBe(ExitCode.usage);
  });
});

describe('revocation', () => {
  it('revokes with the account key and with the certificate key', async () => {
    const client = await registeredClient();
    for (const [index, mode] of (['account', 'certificate'] as const).entries()) {
      const certificateKey = await generateKey('ec256');
      const result = await obtainCertificate(client, {
        identifiers: [{ type: 'dns', value: `revoke${index}.example.test` }],
        certificateKey,
        chooseSolver: chooseOnly('http-01', http),
      });
      const leaf = parseCertificate(result.certificatePem);
      expect((await pebble.certStatusBySerial(leaf.serialHex)).status).toBe('Valid');
      if (mode === 'account') {
        await client.revokeCertificate(leaf.der, { reason: REVOCATION_REASONS.superseded });
      } else {
        const anonymous = new AcmeClient({
          directoryUrl: pebble.directoryUrl,
          accountKey: await generateKey('ec256'),
          transport,
        });
        await anonymous.revokeCertificate(leaf.der, { reason: REVOCATION_REASONS.keyCompromise, certificateKey });
      }
      const status = await pebble.certStatusBySerial(leaf.serialHex);
      expect(status.status).toBe('Revoked');
      expect(status.reason).toBe(mode === 'account' ? 4 : 1);
      const again = await client.revokeCertificate(leaf.der).catch((e: unknown) => e);
      expect((again as AcmeProblemError).code).toBe('alreadyRevoked');
    }
  });
});

describe('External Account Binding', () => {
  let eabPebble: PebbleHandle;
  beforeAll(async () => {
    eabPebble = await startPebble({
      externalAccountBindingRequired: true,
      externalAccountMACKeys: { 'kid-certigna': 'fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk' },
    });
  });
  afterAll(async () => {
    await eabPebble?.stop();
  });

  it.each([
    ['unpadded base64url', 'fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk'],
    ['padded base64url', 'fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk='],
    ['standard base64', Buffer.from('fh2fRV_yZ3NJZyjAQzSlWcPv1z91FEtO2pO62PRgZXk', 'base64url').toString('base64')],
  ])('registers with a %s MAC key', async (_label, hmacKey) => {
    const eabTransport = new Transport({ caBundlePem: eabPebble.caBundlePem });
    try {
      const client = new AcmeClient({
        directoryUrl: eabPebble.directoryUrl,
        accountKey: await generateKey('rsa3072'),
        transport: eabTransport,
      });
      expect((await client.directory()).meta?.externalAccountRequired).toBe(true);
      const created = await client.newAccount({
        termsOfServiceAgreed: true,
        externalAccountBinding: { keyId: 'kid-certigna', hmacKey },
      });
      expect(created.created).toBe(true);
    } finally {
      await eabTransport.close();
    }
  });

  it('refuses a missing binding and a wrong MAC key with clear errors', async () => {
    const eabTransport = new Transport({ caBundlePem: eabPebble.caBundlePem });
    try {
      const client = new AcmeClient({
        directoryUrl: eabPebble.directoryUrl,
        accountKey: await generateKey('ec256'),
        transport: eabTransport,
      });
      const missing = await client.newAccount({ termsOfServiceAgreed: true }).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(ExternalAccountRequiredError);
      // The core gives the problem type; the CLI words the hint with the flags.
      expect((missing as AcmeProblemError).advice).toMatchObject({ problemType: 'externalAccountRequired' });
      expect(hintFor(missing)).toContain('--eab-kid');
      const wrong = await client
        .newAccount({
          termsOfServiceAgreed: true,
          externalAccountBinding: { keyId: 'kid-certigna', hmacKey: Buffer.alloc(32, 7).toString('base64url') },
        })
        .catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(AcmeProblemError);
      expect((wrong as AcmeProblemError).code).toBe('unauthorized');
      expect((wrong as Error).message).not.toContain(Buffer.alloc(32, 7).toString('base64url'));
    } finally {
      await eabTransport.close();
    }
  });
});
