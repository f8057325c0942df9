/**
 * Each challenge plugin end to end through the protocol core and a real Pebble: webroot behind a
 * real static web server, standalone http-01 and tls-alpn-01 on Pebble's validation ports, and
 * manual dns-01 with a certbot-style hook that publishes through pebble-challtestsrv with curl.
 */
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmeClient } from '../../src/acme/client.js';
import { obtainCertificate, type ObtainEvent } from '../../src/acme/obtain.js';
import type { Identifier } from '../../src/acme/types.js';
import { Transport } from '../../src/acme/transport.js';
import { DEFAULT_DNS01_SETTINGS } from '../../src/challenges/dns01/settings.js';
import type { ChallengePlugin, PluginContext } from '../../src/challenges/plugin.js';
import { createSolverChooser } from '../../src/challenges/select.js';
import { parseCertificate } from '../../src/crypto/certificate.js';
import { generateKey } from '../../src/crypto/keys.js';
import { runCommand } from '../../src/hooks/run-command.js';
import type { Logger } from '../../src/output/logger.js';
import { manualPlugin } from '../../plugins/manual/index.js';
import { standalonePlugin } from '../../plugins/standalone/index.js';
import { webrootPlugin } from '../../plugins/webroot/index.js';
import { startPebble, type PebbleHandle } from '../helpers/pebble.js';

let pebble: PebbleHandle;
let transport: Transport;
let dir: string;
const logLines: string[] = [];
const log: Logger = {
  debug: (message) => logLines.push(`debug: ${message}`),
  info: (message) => logLines.push(`info: ${message}`),
  warn: (message) => logLines.push(`warn: ${message}`),
};

beforeAll(async () => {
  // No random 0–5 s sleep before validations; no authorization reuse, so every run validates.
  pebble = await startPebble({ env: { PEBBLE_AUTHZREUSE: '0' } });
  transport = new Transport({ caBundlePem: pebble.caBundlePem, userAgent: 'acmecli-plugin-test' });
});
afterAll(async () => {
  await transport?.close();
  await pebble?.stop();
});
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'acmecli-issuance-'));
  logLines.length = 0;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function context(): PluginContext {
  return {
    log,
    runCommand,
    // The validator resolves through challtestsrv: check propagation there too.
    dns01: { ...DEFAULT_DNS01_SETTINGS, resolvers: [pebble.challtestsrv.dnsAddress], propagationTimeoutMs: 20_000 },
  };
}

async function registeredClient(): Promise<AcmeClient> {
  const client = new AcmeClient({
    directoryUrl: pebble.directoryUrl,
    accountKey: await generateKey('ec256'),
    transport,
  });
  await client.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:plugins@example.test'] });
  return client;
}

async function issueWith<O>(
  plugin: ChallengePlugin<O>,
  raw: Record<string, unknown>,
  identifiers: Identifier[],
  types = plugin.challengeTypes,
): Promise<{ names: Identifier[]; events: ObtainEvent[] }> {
  const solver = plugin.createSolver(plugin.parseOptions(raw), context());
  const events: ObtainEvent[] = [];
  const result = await obtainCertificate(await registeredClient(), {
    identifiers,
    certificateKey: await generateKey('ec256'),
    chooseSolver: createSolverChooser([{ solver, types }], types),
    log,
    onEvent: (event) => events.push(event),
  });
  return { names: parseCertificate(result.certificatePem).identifiers, events };
}

function challengeTypes(events: ObtainEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'presenting' ? [event.challengeType] : []));
}

/** A plain static file server on `port`, like the nginx/apache a webroot user already runs. */
async function startStaticServer(root: string, port: number): Promise<{ requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://placeholder');
    requests.push(url.pathname);
    const file = path.join(
      root,
      ...decodeURIComponent(url.pathname)
        .split('/')
        .filter((part) => part !== '' && part !== '..'),
    );
    stat(file)
      .then(
        (info) => {
          if (!info.isFile()) throw new Error('not a file');
          response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': info.size });
          createReadStream(file).pipe(response);
        },
        () => response.writeHead(404).end(),
      )
      .catch(() => response.writeHead(404).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, resolve);
  });
  return {
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('issuance through Pebble', () => {
  it('webroot: files served by an existing web server, removed afterwards', async () => {
    const webroot = path.join(dir, 'html');
    await mkdir(webroot);
    await writeFile(path.join(webroot, 'index.html'), '<h1>site</h1>');
    const server = await startStaticServer(webroot, pebble.httpPort);
    try {
      const identifiers: Identifier[] = [
        { type: 'dns', value: 'webroot.example.test' },
        { type: 'dns', value: 'www.webroot.example.test' },
      ];
      const { names, events } = await issueWith(webrootPlugin, { webrootPath: webroot }, identifiers);
      expect(names).toEqual(expect.arrayContaining(identifiers));
      expect(challengeTypes(events)).toEqual(['http-01', 'http-01']);
      expect(server.requests.filter((p) => p.startsWith('/.well-known/acme-challenge/'))).not.toHaveLength(0);
      // Only the site's own file is left.
      expect(await readdir(webroot)).toEqual(['index.html']);
    } finally {
      await server.close();
    }
  });

  it('standalone http-01: listens on the validation port only while validating', async () => {
    const identifiers: Identifier[] = [
      { type: 'dns', value: 'standalone.example.test' },
      { type: 'ip', value: '127.0.0.1' },
    ];
    const { names, events } = await issueWith(
      standalonePlugin,
      { httpPort: pebble.httpPort, tlsPort: pebble.tlsPort },
      identifiers,
      ['http-01'],
    );
    expect(names).toEqual(expect.arrayContaining(identifiers));
    expect(challengeTypes(events)).toEqual(['http-01', 'http-01']);
    expect(await connectRefused(pebble.httpPort)).toBe(true);
  });

  it('standalone tls-alpn-01: answers acme-tls/1 on the validation port', async () => {
    const identifiers: Identifier[] = [
      { type: 'dns', value: 'alpn.example.test' },
      { type: 'dns', value: 'www.alpn.example.test' },
    ];
    const { names, events } = await issueWith(
      standalonePlugin,
      { httpPort: pebble.httpPort, tlsPort: pebble.tlsPort, standaloneAddress: '127.0.0.1' },
      identifiers,
      ['tls-alpn-01'],
    );
    expect(names).toEqual(expect.arrayContaining(identifiers));
    expect(challengeTypes(events)).toEqual(['tls-alpn-01', 'tls-alpn-01']);
    expect(await connectRefused(pebble.tlsPort)).toBe(true);
  });

  it.runIf(process.platform !== 'win32')(
    'manual dns-01: certbot-style hooks publish through challtestsrv (apex + wildcard)',
    async () => {
      const management = pebble.challtestsrv.managementUrl;
      const outputs = path.join(dir, 'cleanup-outputs.txt');
      // As in Certigna's createtxt.sh: echo the variables, then publish the record with a tool.
      const auth = path.join(dir, 'createtxt.sh');
      await writeFile(
        auth,
        [
          '#!/bin/bash',
          'echo "Create dns TXT"',
          'echo "domain: $CERTBOT_DOMAIN"',
          'echo "challenge: $CERTBOT_VALIDATION"',
          'echo "remaining: $CERTBOT_REMAINING_CHALLENGES"',
          'echo "all domains: $CERTBOT_ALL_DOMAINS"',
          `curl -sS --fail -X POST -d "{\\"host\\":\\"_acme-challenge.$CERTBOT_DOMAIN.\\",\\"value\\":\\"$CERTBOT_VALIDATION\\"}" ${management}/set-txt`,
          '',
        ].join('\n'),
      );
      const cleanup = path.join(dir, 'cleantxt.sh');
      await writeFile(
        cleanup,
        [
          '#!/bin/bash',
          `printf '%s\\n---\\n' "$CERTBOT_AUTH_OUTPUT" >> "${outputs}"`,
          `curl -sS --fail -X POST -d "{\\"host\\":\\"_acme-challenge.$CERTBOT_DOMAIN.\\"}" ${management}/clear-txt`,
          '',
        ].join('\n'),
      );
      await chmod(auth, 0o755);
      await chmod(cleanup, 0o755);

      const identifiers: Identifier[] = [
        { type: 'dns', value: 'manual.example.test' },
        { type: 'dns', value: '*.manual.example.test' },
      ];
      const { names, events } = await issueWith(
        manualPlugin,
        { manualAuthHook: auth, manualCleanupHook: cleanup, manualHookTimeout: '30' },
        identifiers,
        ['dns-01'],
      );
      expect(names).toEqual(expect.arrayContaining(identifiers));
      expect(challengeTypes(events)).toEqual(['dns-01', 'dns-01']);

      const recorded = await readFile(outputs, 'utf8');
      // Hooks ran one at a time, counting down, each with both names (certbot spells them bare).
      expect(recorded).toContain('remaining: 1');
      expect(recorded).toContain('remaining: 0');
      expect(recorded).toContain('all domains: manual.example.test,manual.example.test');
      expect(recorded.split('---').filter((part) => part.includes('Create dns TXT'))).toHaveLength(2);
      // Both values were awaited under the one shared record name before answering.
      expect(logLines.some((line) => line.includes('TXT _acme-challenge.manual.example.test visible'))).toBe(true);
    },
  );
});
