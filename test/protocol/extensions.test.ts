/**
 * The protocol core's extensions and connection options against a real Pebble: ARI (RFC 9773),
 * profiles, Retry-After on pending resources, a badNonce storm, client-certificate TLS through an
 * EJBCA-shaped front, an untrusted server certificate, an HTTP CONNECT proxy, and authorization
 * deactivation. Tests that need Pebble 2.10 features fail (never skip) on an older Pebble.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ariCertificateId, chooseRenewalTime } from '../../src/acme/ari.js';
import { AcmeClient } from '../../src/acme/client.js';
import { obtainCertificate, type ObtainResult } from '../../src/acme/obtain.js';
import { AcmeProblemError, AlreadyReplacedError } from '../../src/acme/problem.js';
import { Transport, type HttpRequest, type HttpResponse } from '../../src/acme/transport.js';
import type { Solver } from '../../src/acme/solver.js';
import { parseCertificate } from '../../src/crypto/certificate.js';
import { generateKey } from '../../src/crypto/keys.js';
import { NetworkError } from '../../src/errors.js';
import { hintFor } from '../../src/cli/hints.js';
import { requirePebbleFeature, startPebble, type PebbleHandle } from '../helpers/pebble.js';
import { chooseOnly, startTestHttpSolver, type TestHttpSolver } from '../helpers/test-solvers.js';
import { makeTempDir, removeTempDir } from '../helpers/processes.js';
import { makeClientCertificate, startTlsFront, type TlsFront } from '../helpers/tls-front.js';

/** A Transport that records every answer it got (requests that failed in transit are not in it). */
class CountingTransport extends Transport {
  readonly seen: Array<{ method: string; url: string; status: number; badNonce: boolean }> = [];

  override async request(req: HttpRequest): Promise<HttpResponse> {
    const response = await super.request(req);
    const badNonce =
      response.status === 400 && response.body.toString('utf8').includes('urn:ietf:params:acme:error:badNonce');
    this.seen.push({ method: req.method, url: req.url, status: response.status, badNonce });
    return response;
  }
}

const figures: Array<Record<string, string | number>> = [];

let pebble: PebbleHandle;
let transport: Transport;
let http: TestHttpSolver;

beforeAll(async () => {
  pebble = await startPebble();
  transport = new Transport({ caBundlePem: pebble.caBundlePem, userAgent: 'acmecli-test' });
  http = await startTestHttpSolver(pebble.httpPort);
});

afterAll(async () => {
  await http?.close();
  await transport?.close();
  await pebble?.stop();
  if (figures.length > 0) {
    console.log('protocol extension figures:');
    console.table(figures);
  }
});

async function registeredClient(options: { directoryUrl?: string; transport?: Transport } = {}): Promise<AcmeClient> {
  const client = new AcmeClient({
    directoryUrl: options.directoryUrl ?? pebble.directoryUrl,
    accountKey: await generateKey('ec256'),
    transport: options.transport ?? transport,
  });
  await client.newAccount({ termsOfServiceAgreed: true });
  return client;
}

async function issue(
  client: AcmeClient,
  name: string,
  solver: Solver = http,
  extra: { profile?: string; replaces?: string } = {},
): Promise<ObtainResult> {
  return obtainCertificate(client, {
    identifiers: [{ type: 'dns', value: name }],
    certificateKey: await generateKey('ec256'),
    chooseSolver: chooseOnly('http-01', solver),
    ...extra,
  });
}

describe('ACME Renewal Information (RFC 9773)', () => {
  it('gives a future window for a fresh certificate and a past one after set-renewal-info', async () => {
    requirePebbleFeature(pebble, 'ari');
    const client = await registeredClient();
    const issued = await issue(client, 'ari-window.example.test');
    const id = ariCertificateId(issued.certificatePem);
    expect(id).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

    const fresh = await client.renewalInfo(id as string);
    expect(fresh).toBeDefined();
    const start = Date.parse(fresh!.info.suggestedWindow.start);
    const end = Date.parse(fresh!.info.suggestedWindow.end);
    expect(start).toBeLessThan(end);
    expect(start).toBeGreaterThan(Date.now());
    expect(end).toBeLessThanOrEqual(issued.notAfter.getTime());
    expect(chooseRenewalTime(fresh!.info).getTime()).toBeGreaterThan(Date.now());

    const pastStart = new Date(Date.now() - 2 * 3_600_000);
    const pastEnd = new Date(pastStart.getTime() + 3_600_000);
    await pebble.setRenewalInfo(issued.certificatePem, {
      suggestedWindow: { start: pastStart.toISOString(), end: pastEnd.toISOString() },
    });
    const past = await client.renewalInfo(id as string);
    expect(Date.parse(past!.info.suggestedWindow.end)).toBeLessThan(Date.now());
    expect(chooseRenewalTime(past!.info).getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('orders with "replaces", refuses a second replacement, and obtainCertificate falls back without it', async () => {
    requirePebbleFeature(pebble, 'ari');
    const client = await registeredClient();
    const name = 'ari-replace.example.test';
    const issued = await issue(client, name);
    const id = ariCertificateId(issued.certificatePem) as string;

    const replacement = await issue(client, name, http, { replaces: id });
    expect(parseCertificate(replacement.certificatePem).identifiers).toEqual([{ type: 'dns', value: name }]);
    const replacementOrder = await client.getOrder(replacement.orderUrl);
    expect(replacementOrder.data.replaces).toBe(id);

    const again = await client
      .newOrder({ identifiers: [{ type: 'dns', value: name }], replaces: id })
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(AlreadyReplacedError);
    expect((again as AlreadyReplacedError).code).toBe('alreadyReplaced');

    // The porcelain drops "replaces" and orders again, so a renewal is never blocked by it.
    const sent: Array<string | undefined> = [];
    const newOrder = client.newOrder.bind(client);
    client.newOrder = (options, signal) => {
      sent.push(options.replaces);
      return newOrder(options, signal);
    };
    const fallback = await issue(client, name, http, { replaces: id });
    expect(fallback.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(sent).toEqual([id, undefined]);
  });

  it('echoes "replaces" in the newOrder answer', async () => {
    requirePebbleFeature(pebble, 'ari');
    const client = await registeredClient();
    const name = 'ari-echo.example.test';
    const id = ariCertificateId((await issue(client, name)).certificatePem) as string;
    const created = await client.newOrder({ identifiers: [{ type: 'dns', value: name }], replaces: id });
    expect(created.order.replaces).toBe(id);
    // 'ready' when Pebble reuses the authorization it just validated (PEBBLE_AUTHZREUSE).
    expect(['pending', 'ready']).toContain(created.order.status);
  });

  it('turns a malformed renewalInfo answer into a NetworkError', async () => {
    requirePebbleFeature(pebble, 'ari');
    const client = await registeredClient();
    const issued = await issue(client, 'ari-garbage.example.test');
    const id = ariCertificateId(issued.certificatePem) as string;
    await pebble.setRenewalInfo(issued.certificatePem, 'this is { not json');
    const notJson = await client.renewalInfo(id).catch((e: unknown) => e);
    expect(notJson).toBeInstanceOf(NetworkError);
    expect((notJson as Error).message).toMatch(/renewalInfo/);
    await pebble.setRenewalInfo(issued.certificatePem, { suggestedWindow: { start: 'yesterday' } });
    const noWindow = await client.renewalInfo(id).catch((e: unknown) => e);
    expect(noWindow).toBeInstanceOf(NetworkError);
    expect((noWindow as Error).message).toMatch(/suggestedWindow/);
  });
});

describe('profiles', () => {
  it('lists default and shortlived in the directory', async () => {
    requirePebbleFeature(pebble, 'profiles');
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      accountKey: await generateKey('ec256'),
      transport,
    });
    const profiles = (await client.directory()).meta?.profiles ?? {};
    expect(Object.keys(profiles)).toEqual(expect.arrayContaining(['default', 'shortlived']));
  });

  it('issues a six-day certificate with profile shortlived', async () => {
    requirePebbleFeature(pebble, 'profiles');
    const client = await registeredClient();
    const short = await issue(client, 'short.example.test', http, { profile: 'shortlived' });
    const lifetimeSeconds = (short.notAfter.getTime() - short.notBefore.getTime()) / 1000;
    expect(Math.abs(lifetimeSeconds - 518_400)).toBeLessThanOrEqual(120);
    const order = await client.getOrder(short.orderUrl);
    expect(order.data.profile).toBe('shortlived');
    // Named explicitly: Pebble picks a profile at random for an order that names none.
    const normal = await issue(client, 'long.example.test', http, { profile: 'default' });
    const normalSeconds = (normal.notAfter.getTime() - normal.notBefore.getTime()) / 1000;
    expect(normalSeconds).toBeGreaterThan(lifetimeSeconds * 2);
    figures.push(
      { what: 'shortlived lifetime (s)', value: lifetimeSeconds },
      { what: 'default lifetime (s)', value: normalSeconds },
    );
  });

  it('refuses an unknown profile with a problem document', async () => {
    requirePebbleFeature(pebble, 'profiles');
    const client = await registeredClient();
    const error = await client
      .newOrder({ identifiers: [{ type: 'dns', value: 'noprofile.example.test' }], profile: 'no-such-profile' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProblemError);
    expect(['invalidProfile', 'malformed']).toContain((error as AcmeProblemError).code);
    expect((error as Error).message).toContain('no-such-profile');
    figures.push({ what: 'unknown profile problem code', value: String((error as AcmeProblemError).code) });
  });
});

describe('authorization deactivation', () => {
  it('deactivates a pending authorization', async () => {
    const client = await registeredClient();
    const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'deactivate.example.test' }] });
    const url = order.authorizations[0] as string;
    expect((await client.getAuthorization(url)).data.status).toBe('pending');
    const deactivated = await client.deactivateAuthorization(url);
    expect(deactivated.status).toBe('deactivated');
    expect((await client.getAuthorization(url)).data.status).toBe('deactivated');
  });
});

/**
 * An http-01 responder that answers Pebble's validator only after `delayMs`: the challenge stays
 * processing that long, which is when Pebble sends Retry-After on the authorization.
 */
async function startSlowHttpSolver(port: number, delayMs: number): Promise<Solver & { close(): Promise<void> }> {
  const served = new Map<string, string>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createHttpServer((req, res) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      const body = served.get(req.url ?? '');
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    name: 'slow-http',
    async present(task) {
      if (task.type === 'http-01') served.set(task.path, task.keyAuthorization);
    },
    async cleanUp(task) {
      if (task.type === 'http-01') served.delete(task.path);
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('Retry-After on pending resources', () => {
  let slow: PebbleHandle;
  let slowHttp: Solver & { close(): Promise<void> };
  let slowTransport: Transport;
  beforeAll(async () => {
    slow = await startPebble({ retryAfter: { authz: 1, order: 1 } });
    slowTransport = new Transport({ caBundlePem: slow.caBundlePem });
    slowHttp = await startSlowHttpSolver(slow.httpPort, 1_500);
  });
  afterAll(async () => {
    await slowHttp?.close();
    await slowTransport?.close();
    await slow?.stop();
  });

  it('waits as told between polls, and still issues', async () => {
    const client = await registeredClient({ directoryUrl: slow.directoryUrl, transport: slowTransport });
    type Read = {
      kind: 'authz' | 'order' | 'finalize';
      url: string;
      atMs: number;
      status: string;
      retryAfter: number | undefined;
    };
    const reads: Read[] = [];
    const started = performance.now();
    const note = (
      kind: Read['kind'],
      url: string,
      response: { data: { status: string }; retryAfterSeconds: number | undefined },
    ): void => {
      reads.push({
        kind,
        url,
        atMs: performance.now() - started,
        status: response.data.status,
        retryAfter: response.retryAfterSeconds,
      });
    };
    const getAuthorization = client.getAuthorization.bind(client);
    client.getAuthorization = async (url, signal) => {
      const response = await getAuthorization(url, signal);
      note('authz', url, response);
      return response;
    };
    const getOrder = client.getOrder.bind(client);
    client.getOrder = async (url, signal) => {
      const response = await getOrder(url, signal);
      note('order', url, response);
      return response;
    };
    const finalize = client.finalize.bind(client);
    client.finalize = async (url, csr, signal) => {
      const response = await finalize(url, csr, signal);
      note('finalize', url, response);
      return response;
    };
    const result = await issue(client, 'retry-after.example.test', slowHttp);
    const totalMs = Math.round(performance.now() - started);
    expect(result.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);

    // Every poll (a read of a resource the previous answer left pending or processing; after
    // finalize, of the order) followed an answer with Retry-After: 1, and came at least a second
    // later. Without Retry-After the client would back off from 50 ms, i.e. hammer.
    const polls: Array<{ after: Read; waitedMs: number }> = [];
    for (const [index, read] of reads.entries()) {
      if (!['pending', 'processing'].includes(read.status)) continue;
      // The authorization fetched before the challenge was answered is not a poll.
      if (read.kind === 'authz' && index === reads.findIndex((r) => r.url === read.url)) continue;
      const sameResource = (r: Read): boolean =>
        read.kind === 'finalize' ? r.kind === 'order' : r.kind === read.kind && r.url === read.url;
      const next = reads.slice(index + 1).find(sameResource);
      if (next) polls.push({ after: read, waitedMs: next.atMs - read.atMs });
    }
    const trace = JSON.stringify(reads);
    // The slow responder keeps the challenge processing for 1.5 s: at least one authz poll.
    expect(
      polls.some((p) => p.after.kind === 'authz'),
      trace,
    ).toBe(true);
    for (const poll of polls) {
      expect(poll.after.retryAfter, trace).toBe(1);
      expect(poll.waitedMs, trace).toBeGreaterThanOrEqual(950);
    }
    const waits = polls.map((p) => p.waitedMs);
    figures.push(
      { what: 'Retry-After 1: issuance (ms)', value: totalMs },
      { what: 'Retry-After 1: authz reads', value: reads.filter((r) => r.kind === 'authz').length },
      { what: 'Retry-After 1: order reads', value: reads.filter((r) => r.kind === 'order').length },
      { what: 'Retry-After 1: waits honoured (ms)', value: waits.map((w) => Math.round(w)).join(' ') },
    );
  });
});

describe('badNonce storm (PEBBLE_WFE_NONCEREJECT=30)', () => {
  let stormy: PebbleHandle;
  let stormyHttp: TestHttpSolver;
  let counting: CountingTransport;
  beforeAll(async () => {
    stormy = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '30' } });
    counting = new CountingTransport({ caBundlePem: stormy.caBundlePem });
    stormyHttp = await startTestHttpSolver(stormy.httpPort);
  });
  afterAll(async () => {
    await stormyHttp?.close();
    await counting?.close();
    await stormy?.stop();
  });

  it('issues five certificates in a row', async () => {
    const client = await registeredClient({ directoryUrl: stormy.directoryUrl, transport: counting });
    const started = performance.now();
    const times: number[] = [];
    for (let n = 0; n < 5; n++) {
      const begin = performance.now();
      const result = await issue(client, `storm${n}.example.test`, stormyHttp);
      expect(parseCertificate(result.certificatePem).identifiers).toEqual([
        { type: 'dns', value: `storm${n}.example.test` },
      ]);
      times.push(Math.round(performance.now() - begin));
    }
    const posts = counting.seen.filter((s) => s.method === 'POST');
    const badNonces = posts.filter((s) => s.badNonce).length;
    // With 30% of good nonces refused, five issuances cannot all have escaped one.
    expect(badNonces).toBeGreaterThan(0);
    figures.push(
      { what: 'nonce storm: issuances', value: times.length },
      { what: 'nonce storm: total (ms)', value: Math.round(performance.now() - started) },
      { what: 'nonce storm: per issuance (ms)', value: times.join(' ') },
      { what: 'nonce storm: POSTs / badNonce answers', value: `${posts.length} / ${badNonces}` },
    );
  });
});

describe('client-certificate TLS through an EJBCA-shaped front', () => {
  let front: TlsFront;
  beforeAll(async () => {
    front = await startTlsFront({
      upstreamOrigin: new URL(pebble.directoryUrl).origin,
      upstreamCaPem: pebble.caBundlePem,
      ejbcaPaths: true,
    });
  });
  afterAll(async () => {
    await front?.stop();
  });

  it.each(['/ejbca/acme/alias1/directory', '/ejbca/acme/directory?configurationId=alias1'])(
    'issues with a client certificate through %s',
    async (path) => {
      const mtls = new CountingTransport({
        caBundlePem: `${front.serverCaPem}${pebble.caBundlePem}`,
        clientCertificatePem: front.client.certificatePem,
        clientKeyPem: front.client.keyPem,
      });
      try {
        const before = front.requests.length;
        const client = await registeredClient({ directoryUrl: `${front.origin}${path}`, transport: mtls });
        const result = await issue(client, 'ejbca.example.test');
        expect(parseCertificate(result.certificatePem).identifiers).toEqual([
          { type: 'dns', value: 'ejbca.example.test' },
        ]);
        expect(result.orderUrl.startsWith(`${front.origin}/`)).toBe(true);
        const seenByFront = front.requests.slice(before);
        // Every request the client made went through the front, with the client certificate.
        expect(mtls.seen.length).toBeGreaterThan(5);
        expect(seenByFront).toHaveLength(mtls.seen.length);
        expect(mtls.seen.every((s) => s.url.startsWith(`${front.origin}/`))).toBe(true);
        expect(seenByFront.every((r) => r.clientCommonName === 'acmecli test client')).toBe(true);
        expect(seenByFront[0]).toMatchObject({ path, upstreamPath: '/dir' });
        figures.push({ what: `mTLS front ${path}: requests`, value: seenByFront.length });
      } finally {
        await mtls.close();
      }
    },
  );

  it('fails with a NetworkError naming the TLS failure when no client certificate is given', async () => {
    const noCert = new Transport({ caBundlePem: `${front.serverCaPem}${pebble.caBundlePem}` });
    try {
      const refusedBefore = front.refusedHandshakes.length;
      const requestsBefore = front.requests.length;
      const client = new AcmeClient({
        directoryUrl: `${front.origin}/ejbca/acme/alias1/directory`,
        accountKey: await generateKey('ec256'),
        transport: noCert,
      });
      const started = performance.now();
      const error = await client.directory().catch((e: unknown) => e);
      const ms = Math.round(performance.now() - started);
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as Error).message).toMatch(/certificate/i);
      expect((error as Error).message).toContain(front.origin);
      expect((error as NetworkError).advice).toEqual({ kind: 'clientCertificateRequired' });
      expect(hintFor(error)).toMatch(/client certificate/i);
      expect(front.refusedHandshakes.length).toBeGreaterThan(refusedBefore);
      expect(front.requests.length).toBe(requestsBefore);
      figures.push(
        { what: 'no client certificate: failure (ms)', value: ms },
        { what: 'no client certificate: message', value: (error as Error).message },
      );
    } finally {
      await noCert.close();
    }
  });

  it('fails with a NetworkError, and no request gets through, when the front does not trust the client certificate', async () => {
    const dir = await makeTempDir('stranger-client');
    try {
      const stranger = await makeClientCertificate(dir, 'stranger');
      const wrongCert = new Transport({
        caBundlePem: `${front.serverCaPem}${pebble.caBundlePem}`,
        clientCertificatePem: stranger.certificatePem,
        clientKeyPem: stranger.keyPem,
      });
      try {
        const requestsBefore = front.requests.length;
        const refusedBefore = front.refusedHandshakes.length;
        const client = new AcmeClient({
          directoryUrl: `${front.origin}/ejbca/acme/alias1/directory`,
          accountKey: await generateKey('ec256'),
          transport: wrongCert,
        });
        const error = await client.directory().catch((e: unknown) => e);
        // Node's TLS server drops a connection with an untrusted client certificate without a
        // TLS alert, so the client can only report the closed connection (a Java or nginx
        // server sends unknown_ca, which the transport names like certificate_required).
        expect(error).toBeInstanceOf(NetworkError);
        expect((error as Error).message).toContain(front.origin);
        expect(front.refusedHandshakes.length).toBeGreaterThan(refusedBefore);
        expect(front.requests.length).toBe(requestsBefore);
        figures.push({ what: 'untrusted client certificate: message', value: (error as Error).message });
      } finally {
        await wrongCert.close();
      }
    } finally {
      await removeTempDir(dir);
    }
  });
});

describe('server certificate trust', () => {
  it('fails with a NetworkError whose hint names --ca-bundle when the CA is not trusted', async () => {
    const untrusting = new Transport();
    try {
      const client = new AcmeClient({
        directoryUrl: pebble.directoryUrl,
        accountKey: await generateKey('ec256'),
        transport: untrusting,
      });
      const started = performance.now();
      const error = await client.directory().catch((e: unknown) => e);
      const ms = Math.round(performance.now() - started);
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as Error).message).toMatch(/not trusted/);
      expect((error as NetworkError).advice).toEqual({ kind: 'serverCertificateUntrusted' });
      expect(hintFor(error)).toContain('--ca-bundle');
      figures.push({ what: 'untrusted server certificate: failure (ms)', value: ms });
    } finally {
      await untrusting.close();
    }
  });
});

interface ConnectProxy {
  readonly port: number;
  /** host:port of every CONNECT request. */
  readonly connects: string[];
  stop(): Promise<void>;
}

/** A minimal HTTP CONNECT proxy on 127.0.0.1 that tunnels to loopback targets only. */
async function startConnectProxy(): Promise<ConnectProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createHttpServer((_req, res) => res.writeHead(405).end('CONNECT only'));
  server.on('connect', (req, clientSocket: Socket, head: Buffer) => {
    track(clientSocket);
    const target = req.url ?? '';
    connects.push(target);
    const match = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(target);
    if (!match) {
      clientSocket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(Number(match[2]), '127.0.0.1', () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(clientSocket);
      clientSocket.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => clientSocket.destroy());
    clientSocket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    connects,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('HTTPS proxy', () => {
  let proxy: ConnectProxy;
  beforeAll(async () => {
    proxy = await startConnectProxy();
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('issues through an HTTP CONNECT proxy, and bypasses it for noProxy hosts', async () => {
    const pebbleTarget = new URL(pebble.directoryUrl).host;
    // noProxy is given explicitly so a NO_PROXY in the environment cannot change the outcome.
    const proxied = new Transport({
      caBundlePem: pebble.caBundlePem,
      proxy: { httpsProxy: `http://127.0.0.1:${proxy.port}`, noProxy: 'unrelated.invalid' },
    });
    const bypassing = new Transport({
      caBundlePem: pebble.caBundlePem,
      proxy: { httpsProxy: `http://127.0.0.1:${proxy.port}`, noProxy: '127.0.0.1' },
    });
    try {
      const viaProxy = await registeredClient({ transport: proxied });
      const result = await issue(viaProxy, 'proxied.example.test');
      expect(result.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(proxy.connects.length).toBeGreaterThan(0);
      expect(proxy.connects.every((target) => target === pebbleTarget)).toBe(true);

      const connectsBefore = proxy.connects.length;
      const direct = await registeredClient({ transport: bypassing });
      await issue(direct, 'unproxied.example.test');
      expect(proxy.connects.length).toBe(connectsBefore);
      figures.push({ what: 'proxy: CONNECT tunnels for one issuance', value: connectsBefore });
    } finally {
      await proxied.close();
      await bypassing.close();
    }
  });
});
