/**
 * A real dns-01 issuance: the nsupdate plugin writes TXT records into BIND over RFC 2136 + TSIG,
 * Pebble's validator resolves them through that same BIND, and the certificate covers a wildcard
 * and its apex (two values on one name, certbot-ci's rfc2136 case).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeClient } from '../../src/acme/client.js';
import { obtainCertificate, type ObtainEvent } from '../../src/acme/obtain.js';
import type { Solver } from '../../src/acme/solver.js';
import { Transport } from '../../src/acme/transport.js';
import { DEFAULT_DNS01_SETTINGS } from '../../src/challenges/dns01/settings.js';
import type { PluginContext } from '../../src/challenges/plugin.js';
import { createSolverChooser } from '../../src/challenges/select.js';
import { parseCertificate } from '../../src/crypto/certificate.js';
import { generateKey } from '../../src/crypto/keys.js';
import type { Logger } from '../../src/output/logger.js';
import { nsupdatePlugin } from '../../plugins/nsupdate/index.js';
import { startBind, type BindHandle } from '../helpers/bind.js';
import { startPebble, type PebbleHandle } from '../helpers/pebble.js';

const KEY = {
  name: 'acme-update',
  algorithm: 'hmac-sha256',
  secret: Buffer.alloc(32, 0x61).toString('base64'),
} as const;

let bind: BindHandle;
let pebble: PebbleHandle;
let transport: Transport;
const logLines: string[] = [];
const log: Logger = {
  debug: (message) => logLines.push(`debug: ${message}`),
  info: (message) => logLines.push(`info: ${message}`),
  warn: (message) => logLines.push(`warn: ${message}`),
};

beforeAll(async () => {
  bind = await startBind({ zones: [{ name: 'example.test' }], tsigKeys: [KEY] });
  // No authorization reuse: every run must really validate through BIND.
  pebble = await startPebble({ dnsServer: bind.dnsServer, env: { PEBBLE_AUTHZREUSE: '0' } });
  transport = new Transport({ caBundlePem: pebble.caBundlePem, userAgent: 'acmecli-nsupdate-test' });
});

afterAll(async () => {
  await transport?.close();
  await pebble?.stop();
  await bind?.stop();
});

describe('dns-01 issuance through BIND with the nsupdate plugin', () => {
  it('issues *.example.test + example.test and removes its records afterwards', async () => {
    const context: PluginContext = {
      log,
      runCommand: () => Promise.reject(new Error('nsupdate must not run commands')),
      dns01: { ...DEFAULT_DNS01_SETTINGS, resolvers: [bind.dnsServer], propagationTimeoutMs: 20_000 },
    };
    const options = nsupdatePlugin.parseOptions({
      nsupdateServer: bind.dnsServer,
      nsupdateKeyFile: bind.keyFilePath(KEY.name),
    });
    const solver = nsupdatePlugin.createSolver(options, context);
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey: await generateKey('ec256'),
      transport,
    });
    await client.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:nsupdate@example.test'] });

    const snapshots: string[][] = [];
    // Spy on what BIND serves between present and validation: both values at once on one name.
    const watching: Solver = {
      ...solver,
      async waitUntilVisible(task, signal) {
        await solver.waitUntilVisible?.(task, signal);
        snapshots.push(await bind.queryTxt('_acme-challenge.example.test'));
      },
    };

    const events: ObtainEvent[] = [];
    const started = Date.now();
    const result = await obtainCertificate(client, {
      identifiers: [
        { type: 'dns', value: '*.example.test' },
        { type: 'dns', value: 'example.test' },
      ],
      certificateKey: await generateKey('ec256'),
      chooseSolver: createSolverChooser([{ solver: watching, types: ['dns-01'] }], ['dns-01']),
      log,
      onEvent: (event) => events.push(event),
    });
    const elapsed = Date.now() - started;
    console.info(`nsupdate issuance (wildcard + apex, Pebble + BIND): ${elapsed} ms`);

    const names = parseCertificate(result.certificatePem)
      .identifiers.map((i) => i.value)
      .sort();
    expect(names).toEqual(['*.example.test', 'example.test']);
    expect(
      events.filter((e) => e.type === 'presenting').map((e) => (e.type === 'presenting' ? e.challengeType : '')),
    ).toEqual(['dns-01', 'dns-01']);
    // Each check saw both values (wildcard and apex) served side by side.
    expect(snapshots).toHaveLength(2);
    for (const values of snapshots) expect(values).toHaveLength(2);
    // cleanUp deleted exactly what present added.
    expect(await bind.queryTxt('_acme-challenge.example.test')).toEqual([]);
    expect(
      logLines.filter((l) => l.includes('added TXT _acme-challenge.example.test in zone example.test')),
    ).toHaveLength(2);
  });
});
