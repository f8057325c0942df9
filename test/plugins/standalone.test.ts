import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { Http01Task, Solver, TlsAlpn01Task } from '../../src/acme/solver.js';
import { DEFAULT_DNS01_SETTINGS } from '../../src/challenges/dns01/settings.js';
import type { PluginContext } from '../../src/challenges/plugin.js';
import { createTlsAlpnCertificate, OID_ACME_IDENTIFIER } from '../../src/crypto/tls-alpn.js';
import { PluginError, UsageError } from '../../src/errors.js';
import { silentLogger } from '../../src/output/logger.js';
import { standalonePlugin } from '../../plugins/standalone/index.js';
import { freePort } from '../helpers/ports.js';
import { x509 } from '../helpers/x509.js';

const context: PluginContext = {
  log: silentLogger,
  runCommand: () => Promise.reject(new Error('the standalone plugin runs no commands')),
  dns01: DEFAULT_DNS01_SETTINGS,
};
const signal = new AbortController().signal;

const solvers: Solver[] = [];
const blockers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(solvers.splice(0).map(async (solver) => solver.dispose?.()));
  await Promise.all(blockers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

function solverFor(raw: Record<string, unknown>): Solver {
  const solver = standalonePlugin.createSolver(standalonePlugin.parseOptions(raw), context);
  solvers.push(solver);
  return solver;
}

function httpTask(value: string, token: string, index = 0, total = 1): Http01Task {
  return {
    type: 'http-01',
    identifier: { type: 'dns', value },
    wildcard: false,
    token,
    path: `/.well-known/acme-challenge/${token}`,
    keyAuthorization: `${token}.thumbprint`,
    batch: { index, total, identifiers: [value] },
  };
}

async function tlsTask(value: string, token: string): Promise<TlsAlpn01Task> {
  const keyAuthorization = `${token}.thumbprint`;
  const { certificatePem, privateKeyPem } = await createTlsAlpnCertificate({ type: 'dns', value }, keyAuthorization);
  return {
    type: 'tls-alpn-01',
    identifier: { type: 'dns', value },
    wildcard: false,
    token,
    keyAuthorization,
    certificatePem,
    privateKeyPem,
    serverName: value,
    batch: { index: 0, total: 1, identifiers: [value] },
  };
}

interface Reply {
  status: number;
  body: string;
  contentType: string | undefined;
}

function get(
  host: string,
  port: number,
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host, port, path, method, headers, agent: false, timeout: 5_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: response.headers['content-type'],
        }),
      );
    });
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
    request.end();
  });
}

/** A raw HTTP/1.0 request without any Host header, as some validators and proxies send. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

function connectError(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

type Handshake = { ok: true; certificate: X509Certificate; alpn: string | false | null } | { ok: false; error: string };

function handshake(port: number, options: { servername?: string; alpn?: string[]; host?: string }): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: options.host ?? '127.0.0.1',
      port,
      rejectUnauthorized: false, // the validation certificate is self-signed by design
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      ...(options.alpn !== undefined ? { ALPNProtocols: options.alpn } : {}),
    });
    let settled = false;
    socket.on('secureConnect', () => {
      const certificate = socket.getPeerX509Certificate();
      const alpn = socket.alpnProtocol;
      // The server keeps exactly the connections that negotiated acme-tls/1 (until the validator
      // hangs up) and drops any other right after the handshake: wait for that drop, no timer.
      if (alpn === 'acme-tls/1' && certificate !== undefined) {
        settled = true;
        socket.destroy();
        resolve({ ok: true, certificate, alpn });
      }
    });
    socket.once('close', () => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, error: 'closed' });
    });
    socket.on('error', (error: Error) => {
      if (settled) return;
      settled = true;
      resolve({ ok: false, error: error.message });
    });
  });
}

describe('standalone options', () => {
  it('defaults to ports 80 and 443 on every address', () => {
    expect(standalonePlugin.parseOptions({})).toEqual({ httpPort: 80, tlsPort: 443 });
  });

  it('takes ports as strings or numbers and addresses repeated or comma-separated', () => {
    const options = standalonePlugin.parseOptions({
      httpPort: '8080',
      tlsPort: 8443,
      standaloneAddress: ['127.0.0.1, [::1]', '127.0.0.1'],
    });
    expect(options).toEqual({ httpPort: 8080, tlsPort: 8443, addresses: ['127.0.0.1', '::1'] });
    expect(standalonePlugin.parseOptions(standalonePlugin.toSettings(options))).toEqual(options);
  });

  it('names the flag of a bad value', () => {
    expect(() => standalonePlugin.parseOptions({ httpPort: '0' })).toThrow(/--http-port/);
    expect(() => standalonePlugin.parseOptions({ httpPort: '65536' })).toThrow(UsageError);
    expect(() => standalonePlugin.parseOptions({ tlsPort: 'https' })).toThrow(/--tls-port/);
    expect(() => standalonePlugin.parseOptions({ standaloneAddress: 'localhost' })).toThrow(/--standalone-address/);
  });
});

describe('standalone http-01', () => {
  it('answers registered tokens on 127.0.0.1 and ::1, and 404 for anything else', async () => {
    const port = await freePort();
    const solver = solverFor({ httpPort: port });
    await solver.prepare!({ identifiers: [{ type: 'dns', value: 'a.example' }], types: ['http-01'] }, signal);
    // prepare only checks: nothing listens before the first present.
    expect(await connectError('127.0.0.1', port)).toBe('ECONNREFUSED');

    const first = httpTask('a.example', 'token_A-1', 0, 2);
    const second = httpTask('b.example', 'tokenB', 1, 2);
    await Promise.all([solver.present(first, signal), solver.present(second, signal)]);

    for (const host of ['127.0.0.1', '::1']) {
      const ok = await get(host, port, first.path, 'GET', { host: 'a.example' });
      expect(ok).toEqual({ status: 200, body: first.keyAuthorization, contentType: 'text/plain; charset=utf-8' });
      // The Host header does not matter: the validator may use an IP or another name.
      expect((await get(host, port, second.path, 'GET', { host: 'unrelated.example:1234' })).body).toBe(
        second.keyAuthorization,
      );
      const head = await get(host, port, first.path, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.body).toBe('');

      for (const path of [
        '/.well-known/acme-challenge/unknown',
        '/.well-known/acme-challenge/',
        '/.well-known/acme-challenge',
        '/',
        `/.well-known/acme-challenge/${first.token}/`,
        `/.well-known/acme-challenge/${first.token}x`,
        `/.well-known/acme-challenge/../acme-challenge/${first.token}`,
        `/.WELL-KNOWN/acme-challenge/${first.token}`,
      ]) {
        const reply = await get(host, port, path);
        expect({ path, status: reply.status, leaked: reply.body.includes('thumbprint') }).toEqual({
          path,
          status: 404,
          leaked: false,
        });
      }
      expect((await get(host, port, first.path, 'POST')).status).toBe(404);
      expect((await get(host, port, first.path, 'PUT')).status).toBe(404);
    }

    const noHost = await rawRequest(port, `GET ${first.path} HTTP/1.0\r\n\r\n`);
    expect(noHost).toMatch(/^HTTP\/1\.1 200/);
    expect(noHost.endsWith(first.keyAuthorization)).toBe(true);
    const absolute = await rawRequest(
      port,
      `GET http://a.example${first.path}?x=1 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`,
    );
    expect(absolute).toMatch(/^HTTP\/1\.1 200/);

    // Clean-up unregisters: the token is no longer served, the other one still is.
    await solver.cleanUp(first, signal);
    expect((await get('127.0.0.1', port, first.path)).status).toBe(404);
    expect((await get('127.0.0.1', port, second.path)).status).toBe(200);
    await solver.cleanUp(second, signal);
  });

  it('closes the connection with its answer, even when the validator asked for keep-alive', async () => {
    const port = await freePort();
    const solver = solverFor({ httpPort: port, standaloneAddress: '127.0.0.1' });
    const task = httpTask('a.example', 'tok');
    await solver.present(task, signal);
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closedByServer = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.write(`GET ${task.path} HTTP/1.1\r\nHost: a.example\r\nConnection: keep-alive\r\n\r\n`);
    await closedByServer;
    socket.destroy();
    const reply = Buffer.concat(chunks).toString('utf8');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(reply.endsWith(task.keyAuthorization)).toBe(true);
    await solver.cleanUp(task, signal);
    await solver.dispose!();
  });

  it('closes its listeners and open connections on dispose', async () => {
    const port = await freePort();
    const solver = solverFor({ httpPort: port });
    const task = httpTask('a.example', 'tok');
    await solver.present(task, signal);

    // An idle keep-alive client must not hold dispose up.
    const idle = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => idle.once('connect', resolve));
    const idleClosed = new Promise((resolve) => idle.once('close', resolve));

    await solver.cleanUp(task, signal);
    // The idle client never hangs up by itself: dispose resolves only by closing it.
    await solver.dispose!();
    await idleClosed;
    expect(await connectError('127.0.0.1', port)).toBe('ECONNREFUSED');
    expect(await connectError('::1', port)).toBe('ECONNREFUSED');
  });

  it('listens only on the explicit addresses', async () => {
    const port = await freePort();
    const solver = solverFor({ httpPort: port, standaloneAddress: '127.0.0.1' });
    const task = httpTask('a.example', 'tok');
    await solver.present(task, signal);
    expect((await get('127.0.0.1', port, task.path)).status).toBe(200);
    expect(await connectError('::1', port)).toBe('ECONNREFUSED');
  });

  it('prepare names the port and address already in use', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen({ host: '0.0.0.0', port }, resolve));

    const solver = solverFor({ httpPort: port });
    const plan = { identifiers: [{ type: 'dns' as const, value: 'a.example' }], types: ['http-01' as const] };
    const failure = await solver.prepare!(plan, signal).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PluginError);
    expect((failure as Error).message).toBe(
      `port ${port} on 0.0.0.0 is already in use (is a web server running? use --webroot instead)`,
    );
    // present meets the same conflict if it appeared after prepare.
    await expect(solver.present(httpTask('a.example', 'tok'), signal)).rejects.toThrow(
      `port ${port} on 0.0.0.0 is already in use`,
    );

    const explicit = solverFor({ httpPort: port, standaloneAddress: '127.0.0.1' });
    await expect(explicit.prepare!(plan, signal)).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use`);
    // Only the ports of the planned challenge types are checked.
    await solverFor({ httpPort: port }).prepare!({ ...plan, types: ['tls-alpn-01'] }, signal).catch(
      (error: unknown) => {
        expect((error as Error).message).not.toContain(`port ${port}`);
      },
    );
  });

  it('prepare names :: when only the IPv6 side is taken', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen({ host: '::', port, ipv6Only: true }, resolve));
    const solver = solverFor({ httpPort: port });
    await expect(
      solver.prepare!({ identifiers: [{ type: 'dns', value: 'a.example' }], types: ['http-01'] }, signal),
    ).rejects.toThrow(`port ${port} on :: is already in use`);
  });
});

describe('standalone tls-alpn-01', () => {
  it('completes only acme-tls/1 handshakes for registered names, with the validation certificate', async () => {
    const port = await freePort();
    const solver = solverFor({ tlsPort: port });
    await solver.prepare!({ identifiers: [{ type: 'dns', value: 'a.example' }], types: ['tls-alpn-01'] }, signal);
    const task = await tlsTask('a.example', 'tok');
    const other = await tlsTask('b.example', 'tok2');
    await solver.present(task, signal);
    await solver.present(other, signal);

    for (const host of ['127.0.0.1', '::1']) {
      const result = await handshake(port, { host, servername: 'a.example', alpn: ['acme-tls/1'] });
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      expect(result.alpn).toBe('acme-tls/1');
      expect(result.certificate.raw.equals(new X509Certificate(task.certificatePem).raw)).toBe(true);
      const parsed = new x509.X509Certificate(result.certificate.raw);
      const extension = parsed.getExtension(OID_ACME_IDENTIFIER);
      expect(extension?.critical).toBe(true);
      expect(result.certificate.subjectAltName).toBe('DNS:a.example');
    }
    // SNI is case-insensitive; the second task gets its own certificate.
    const upper = await handshake(port, { servername: 'B.EXAMPLE', alpn: ['acme-tls/1'] });
    expect(upper.ok && upper.certificate.raw.equals(new X509Certificate(other.certificatePem).raw)).toBe(true);

    // Refused: another protocol, an unknown name, no SNI, no ALPN at all.
    expect((await handshake(port, { servername: 'a.example', alpn: ['h2', 'http/1.1'] })).ok).toBe(false);
    expect((await handshake(port, { servername: 'unknown.example', alpn: ['acme-tls/1'] })).ok).toBe(false);
    expect((await handshake(port, { alpn: ['acme-tls/1'] })).ok).toBe(false);
    expect((await handshake(port, { servername: 'a.example' })).ok).toBe(false);

    await solver.cleanUp(task, signal);
    expect((await handshake(port, { servername: 'a.example', alpn: ['acme-tls/1'] })).ok).toBe(false);
    expect((await handshake(port, { servername: 'b.example', alpn: ['acme-tls/1'] })).ok).toBe(true);

    await solver.dispose!();
    expect(await connectError('127.0.0.1', port)).toBe('ECONNREFUSED');
  });

  it('prepare reports a taken TLS port', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen({ host: '0.0.0.0', port }, resolve));
    const solver = solverFor({ tlsPort: port });
    await expect(
      solver.prepare!({ identifiers: [{ type: 'dns', value: 'a.example' }], types: ['tls-alpn-01'] }, signal),
    ).rejects.toThrow(`port ${port} on 0.0.0.0 is already in use`);
  });

  it('refuses an unusable certificate with a PluginError', async () => {
    const solver = solverFor({ tlsPort: await freePort() });
    const task = { ...(await tlsTask('a.example', 'tok')), privateKeyPem: 'not a key' };
    await expect(solver.present(task, signal)).rejects.toThrow(PluginError);
    await solver.cleanUp(task, signal);
  });
});
