/**
 * --ca-bundle adds trust anchors to the roots Node trusts by default (tls.getCACertificates()); it
 * does not replace them.
 * Two throw-away CAs on 127.0.0.1: A stands in for a default root (through NODE_EXTRA_CA_CERTS),
 * B is the bundle.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transport } from '../../../src/acme/transport.js';
import { makeTestTls, type TlsMaterial } from '../../helpers/pebble.js';
import { makeTempDir, removeTempDir, runCommand } from '../../helpers/processes.js';

let caA: TlsMaterial;
let caB: TlsMaterial;
const servers: Server[] = [];
let urlA: string;
let urlB: string;

async function serve(material: TlsMaterial): Promise<string> {
  const server = createServer(
    { key: await readFile(material.serverKeyPath), cert: await readFile(material.serverCertPath) },
    (_request, response) => response.end('ok'),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

beforeAll(async () => {
  caA = await makeTestTls(await makeTempDir('trust-a'));
  caB = await makeTestTls(await makeTempDir('trust-b'));
  urlA = await serve(caA);
  urlB = await serve(caB);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  for (const material of [caA, caB]) if (material) await removeTempDir(join(material.caCertPath, '..'));
});

describe('--ca-bundle', () => {
  it('trusts the bundle besides the default roots, NODE_EXTRA_CA_CERTS included; without it, only the defaults', async () => {
    const { stdout } = await runCommand(
      process.execPath,
      ['scripts/run-ts.mjs', 'test/helpers/trust-probe.ts', caB.caCertPath, urlA, urlB],
      {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: caA.caCertPath },
        timeoutMs: 60_000,
      },
    );
    const { withBundle, withoutBundle } = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<
      string,
      Record<string, number | string>
    >;
    expect(withBundle).toEqual({ [urlA]: 200, [urlB]: 200 });
    expect(withoutBundle?.[urlA]).toBe(200);
    expect(withoutBundle?.[urlB]).toMatch(/certificate/i);
  });

  it('trusts nothing else: a server of another CA is refused', async () => {
    const transport = new Transport({ caBundlePem: caB.caCertPem, connectTimeoutMs: 5_000, responseTimeoutMs: 5_000 });
    try {
      expect((await transport.request({ method: 'GET', url: urlB })).status).toBe(200);
      await expect(transport.request({ method: 'GET', url: urlA })).rejects.toThrow(/certificate/i);
    } finally {
      await transport.close();
    }
  });

  it('is what makes the private CA trusted: without it, its server is refused', async () => {
    const transport = new Transport({ connectTimeoutMs: 5_000, responseTimeoutMs: 5_000 });
    try {
      await expect(transport.request({ method: 'GET', url: urlB })).rejects.toThrow(/certificate/i);
    } finally {
      await transport.close();
    }
  });
});
