/**
 * Issue 12 §5 and §7: every request to the CA has one deadline, connect to last byte; and the CA
 * cannot send acmecli to a link-local or cloud metadata address.
 *
 * The slow servers here trickle one byte at a time and count what they sent, so "the client gave
 * up" is shown by the server seeing the connection close before it had sent all it planned: no
 * wall-clock bound in any assertion. The per-phase timers are set far above the deadline so only
 * the deadline can end a trickle.
 *
 * No packet may go to 169.254.x (this may run on a cloud VM): every client socket this process
 * opens passes a guard that lets through only loopback addresses, resolves names from a table
 * (never real DNS) and blocks the rest before connect, recording what it blocked. A refusal by
 * acmecli is therefore seen as "refused, and the guard saw no attempt".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import net, { isIP, type AddressInfo, type LookupFunction, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmeClient } from '../../src/acme/client.js';
import { PermanentNetworkError, Transport, type TransportOptions } from '../../src/acme/transport.js';
import { generateKey } from '../../src/crypto/keys.js';
import { NetworkError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { startFakeCa, type FakeCa } from '../helpers/fake-ca.js';

/** A trickle: one byte every INTERVAL_MS, TRICKLE_BYTES of them (10 s), far past every deadline below. */
const INTERVAL_MS = 25;
const TRICKLE_BYTES = 400;
/**
 * The deadline under test; the per-phase timers are set far above it. Long enough that, on a
 * loaded machine, the first bytes are in before it (the message says how far the request got).
 */
const DEADLINE_MS = 1500;
const PHASE_TIMEOUTS: TransportOptions = { responseTimeoutMs: 60_000, connectTimeoutMs: 60_000 };

// ---- the connection guard ------------------------------------------------------------------

/** What names resolve to in this file; anything else is ENOTFOUND (no real DNS query). */
const NAMES: Record<string, string[]> = {
  localhost: ['127.0.0.1'],
  'metadata.google.internal': ['169.254.169.254'],
  'ca-alias.example.test': ['169.254.169.254'],
  'v6-alias.example.test': ['fe80::1'],
  'mapped-alias.example.test': ['::ffff:169.254.169.254'],
  'mixed.example.test': ['198.51.100.10', '169.254.169.254'],
  'public.localhost': ['198.51.100.10'],
};
/** Resolves to loopback the first time, to the metadata address after: DNS rebinding. */
let rebindLookups = 0;

function resolveName(hostname: string): string[] | undefined {
  if (hostname === 'rebind.localhost') return rebindLookups++ === 0 ? ['127.0.0.1'] : ['169.254.169.254'];
  return NAMES[hostname];
}

/** A lookup over the table above, in the shape Node's `lookup` option expects. */
const tableLookup: LookupFunction = (hostname, options, callback) => {
  const addresses = resolveName(hostname);
  if (addresses === undefined) {
    callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    return;
  }
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  if (options.all) (callback as (error: null, addresses: typeof entries) => void)(null, entries);
  else callback(null, entries[0]!.address, entries[0]!.family);
};

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
const isLoopback = (address: string): boolean => LOOPBACK.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** Destinations the guard stopped: each would have been a packet to a non-loopback address. */
const blocked: string[] = [];
const guardError = (address: string): Error =>
  Object.assign(new Error(`test guard: connection to ${address} blocked`), { code: 'ETESTGUARD' });
// Kept unbound on purpose: the guard below calls it with each socket as `this`.
// eslint-disable-next-line @typescript-eslint/unbound-method -- restored in afterAll, applied per socket
const originalConnect = net.Socket.prototype.connect;

beforeAll(() => {
  net.Socket.prototype.connect = function guardedConnect(this: Socket, ...args: unknown[]): Socket {
    const first = args[0];
    // net.createConnection passes its normalized [options, callback] pair; tls.connect an object.
    const options = (
      Array.isArray(first) ? first[0] : typeof first === 'object' && first !== null ? first : { host: args[1] }
    ) as {
      host?: string;
      path?: string;
      lookup?: LookupFunction;
    };
    // Node's own test is `path == null`: http.request passes `path: null` for TCP.
    if (options.path == null) {
      const host = options.host ?? 'localhost';
      if (isIP(host) !== 0) {
        if (!isLoopback(host)) {
          blocked.push(host);
          process.nextTick(() => this.destroy(guardError(host)));
          return this;
        }
      } else {
        // Whatever resolves the name (acmecli's own lookup when it passes one), the address it
        // yields is checked here, after it and before connect.
        const inner = options.lookup ?? tableLookup;
        options.lookup = (hostname, lookupOptions, callback) =>
          inner(hostname, lookupOptions, (error, address, family) => {
            if (error) return callback(error, address, family);
            const addresses = Array.isArray(address) ? address.map((entry) => entry.address) : [address];
            const outside = addresses.filter((a) => !isLoopback(a));
            if (outside.length > 0) {
              blocked.push(...outside);
              return callback(guardError(outside.join(', ')), '', 0);
            }
            callback(null, address, family);
          });
      }
    }
    return (originalConnect as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
});

beforeAll(async () => {
  // The guard guards itself: a literal and a name that leave loopback must both be stopped
  // (198.51.100.0/24 is TEST-NET-2, so even a broken guard sends nothing that matters).
  for (const host of ['198.51.100.7', 'public.localhost']) {
    const error = await new Promise<Error | undefined>((resolve) => {
      const socket = net.connect({ host, port: 9 });
      socket.once('error', resolve);
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
    });
    if ((error as NodeJS.ErrnoException | undefined)?.code !== 'ETESTGUARD')
      throw new Error(`the test guard let a connection to ${host} through`);
  }
  blocked.length = 0;
});

afterAll(() => {
  net.Socket.prototype.connect = originalConnect;
});

beforeEach(() => {
  blocked.length = 0;
});

// ---- trickling servers ----------------------------------------------------------------------

interface Trickle {
  /** Trickled bytes written so far. */
  sent: number;
  /** Resolves when the connection closed, with what had been sent by then. */
  closed: Promise<number>;
}

interface Trickler {
  url: string;
  connections: Trickle[];
  stop(): Promise<void>;
}

/**
 * A fake server on 127.0.0.1 that reads a request's head, then answers one byte every
 * INTERVAL_MS: in the headers (`x-trickle: aaaa…`) or in a body of TRICKLE_BYTES spaces.
 */
async function startTrickler(shape: 'headers' | 'body'): Promise<Trickler> {
  const connections: Trickle[] = [];
  const server = net.createServer((socket) => {
    let head = '';
    let timer: NodeJS.Timeout | undefined;
    let resolveClosed!: (sent: number) => void;
    const trickle: Trickle = { sent: 0, closed: new Promise((resolve) => (resolveClosed = resolve)) };
    connections.push(trickle);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolveClosed(trickle.sent);
    });
    socket.on('data', (chunk: Buffer) => {
      if (timer !== undefined) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.write(
        shape === 'body'
          ? `HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${TRICKLE_BYTES}\r\n\r\n`
          : 'HTTP/1.1 200 OK\r\nconnection: close\r\nx-trickle: ',
      );
      timer = setInterval(() => {
        if (trickle.sent >= TRICKLE_BYTES) {
          clearInterval(timer);
          if (shape === 'headers') socket.end('\r\ncontent-length: 2\r\n\r\n{}');
          else socket.end();
          return;
        }
        socket.write(shape === 'body' ? ' ' : 'a');
        trickle.sent++;
      }, INTERVAL_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`,
    connections,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The ServerResponse side of a trickle, for the fake CA's interceptor. */
function trickleResponse(res: ServerResponse, status: number, nonce: string, connections: Trickle[]): void {
  let resolveClosed!: (sent: number) => void;
  const trickle: Trickle = { sent: 0, closed: new Promise((resolve) => (resolveClosed = resolve)) };
  connections.push(trickle);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(TRICKLE_BYTES),
    'replay-nonce': nonce,
  });
  const timer = setInterval(() => {
    if (trickle.sent >= TRICKLE_BYTES) {
      clearInterval(timer);
      res.end();
      return;
    }
    res.write(' ');
    trickle.sent++;
  }, INTERVAL_MS);
  res.on('close', () => {
    clearInterval(timer);
    resolveClosed(trickle.sent);
  });
}

async function failure(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the request succeeded');
}

/** Every connection closed by the client before the server had trickled all it planned. */
async function expectAllCutShort(connections: Trickle[]): Promise<void> {
  expect(connections.length).toBeGreaterThan(0);
  const sentAtClose = await Promise.all(connections.map((c) => c.closed));
  for (const sent of sentAtClose) expect(sent).toBeLessThan(TRICKLE_BYTES);
}

const SLOW = new RegExp(`too slowly \\(.*in ${DEADLINE_MS} ms, the limit for one request\\)`);

// ---- §5: one deadline per request ---------------------------------------------------------

describe('every request has a deadline, connect to last byte (issue 12 §5)', () => {
  let bodyTrickler: Trickler;
  let headerTrickler: Trickler;
  let transport: Transport;

  beforeAll(async () => {
    bodyTrickler = await startTrickler('body');
    headerTrickler = await startTrickler('headers');
    transport = new Transport({ ...PHASE_TIMEOUTS, requestTimeoutMs: DEADLINE_MS });
  });

  afterAll(async () => {
    await transport?.close();
    await bodyTrickler?.stop();
    await headerTrickler?.stop();
  });

  it('fake trickling server: a GET whose body comes one byte at a time fails at the deadline', async () => {
    const error = await failure(transport.request({ method: 'GET', url: bodyTrickler.url }));
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).exitCode).toBe(5);
    expect(error.message).toContain(`GET ${bodyTrickler.url}: `);
    expect(error.message).toMatch(SLOW);
    await expectAllCutShort(bodyTrickler.connections);
  });

  it('fake trickling server: a POST whose answer trickles fails at the deadline', async () => {
    const before = bodyTrickler.connections.length;
    const error = await failure(transport.request({ method: 'POST', url: bodyTrickler.url, body: '{"payload":""}' }));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain(`POST ${bodyTrickler.url}: `);
    expect(error.message).toMatch(SLOW);
    await expectAllCutShort(bodyTrickler.connections.slice(before));
  });

  it('fake trickling server: response headers that trickle fail at the deadline', async () => {
    const error = await failure(transport.request({ method: 'GET', url: headerTrickler.url }));
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toContain(`GET ${headerTrickler.url}: `);
    expect(error.message).toMatch(/response headers too slowly/);
    expect(error.message).toMatch(SLOW);
    await expectAllCutShort(headerTrickler.connections);
  });

  describe('through the client, against the fake CA', () => {
    let fake: FakeCa;
    let client: AcmeClient;
    let clientTransport: Transport;
    const trickles: Trickle[] = [];

    beforeAll(async () => {
      fake = await startFakeCa();
      clientTransport = new Transport({ ...PHASE_TIMEOUTS, requestTimeoutMs: DEADLINE_MS });
      client = new AcmeClient({
        directoryUrl: fake.directoryUrl,
        accountKey: await generateKey('ec256'),
        transport: clientTransport,
        retry: { backoffMs: 10 },
      });
      await client.newAccount({ termsOfServiceAgreed: true });
    });

    afterAll(async () => {
      await clientTransport?.close();
      await fake?.stop();
    });

    it('fake CA: a trickled newOrder answer (a POST, never re-sent) fails with exit 5 naming the URL and the limit', async () => {
      trickles.length = 0;
      fake.options.interceptor = (request, res) => {
        if (request.resource !== 'newOrder') return false;
        trickleResponse(res, 201, fake.issueNonce(), trickles);
        return true;
      };
      const error = await failure(client.newOrder({ identifiers: [{ type: 'dns', value: 'slow.example.test' }] }));
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as NetworkError).exitCode).toBe(5);
      expect(error.message).toMatch(new RegExp(`^POST ${fake.origin}/new-order: .*${SLOW.source}`));
      expect(fake.requestsTo('newOrder')).toHaveLength(1);
      await expectAllCutShort(trickles);
    });

    it('fake CA: a trickled read is retried, each attempt under its own deadline, 1 + transientRetries attempts in all', async () => {
      fake.options.interceptor = undefined;
      const { url } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'slow-read.example.test' }] });
      trickles.length = 0;
      fake.options.interceptor = (request, res) => {
        if (request.resource !== 'order') return false;
        trickleResponse(res, 200, fake.issueNonce(), trickles);
        return true;
      };
      const error = await failure(client.getOrder(url));
      expect(error).toBeInstanceOf(NetworkError);
      expect(error.message).toMatch(SLOW);
      // DEFAULT_RETRY_POLICY.transientRetries = 3.
      expect(fake.requestsTo('order')).toHaveLength(4);
      expect(trickles).toHaveLength(4);
      await expectAllCutShort(trickles);
    });
  });

  it('fake CA: ACMECLI_HTTP_TIMEOUT=1 bounds each directory request of the CLI (exit 5, the URL and the limit named)', async () => {
    const trickles: Trickle[] = [];
    const fake = await startFakeCa({
      interceptor: (request, res) => {
        if (request.resource !== 'directory') return false;
        trickleResponse(res, 200, fake.issueNonce(), trickles);
        return true;
      },
    });
    const configDir = await mkdtemp(join(tmpdir(), 'acmecli-deadline-'));
    try {
      const result = await runCli(
        [
          '-n',
          'register',
          '--server',
          fake.directoryUrl,
          '--config-dir',
          configDir,
          '--email',
          'ops@example.test',
          '--agree-tos',
        ],
        { env: { ACMECLI_HTTP_TIMEOUT: '1' } },
      );
      expect(result.exitCode, result.stderr).toBe(5);
      expect(result.stderr).toContain(`GET ${fake.directoryUrl}: `);
      expect(result.stderr).toMatch(/ 1 s\b/);
      // A read: the directory GET is tried 1 + 3 times, each cut short by its own deadline.
      expect(fake.requestsTo('directory')).toHaveLength(4);
      await expectAllCutShort(trickles);
    } finally {
      await fake.stop();
      await rm(configDir, { recursive: true, force: true });
    }
  });
});

// ---- §7: no link-local or metadata destinations -------------------------------------------

describe('the CA cannot send acmecli to a link-local or cloud metadata address (issue 12 §7)', () => {
  let transport: Transport;

  beforeAll(() => {
    transport = new Transport({ lookup: tableLookup });
  });

  afterAll(async () => {
    await transport?.close();
  });

  const refusedUrls = [
    'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'https://169.254.170.2/v2/credentials',
    'https://2852039166/latest/api/token',
    'https://[::ffff:169.254.169.254]/latest/meta-data/',
    'https://[fe80::1]/acme/order/1',
    'https://[fd00:ec2::254]/latest/meta-data/',
    'https://[fd20:ce::254]/computeMetadata/v1/',
    'https://[64:ff9b::a9fe:a9fe]/latest/meta-data/',
    'https://100.100.100.200/latest/meta-data/',
    'https://0.0.0.0:8443/acme/order/1',
    'https://[::]:8443/acme/order/1',
    'https://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
    'https://metadata.google.internal./computeMetadata/v1/',
  ];

  it.each(refusedUrls)(
    'a POST to %s is refused before any connection (exit 5, one line naming the URL)',
    async (url) => {
      const error = await failure(
        transport.request({ method: 'POST', url, body: '{}', userHost: 'acme.example.test' }),
      );
      expect(error).toBeInstanceOf(PermanentNetworkError);
      expect((error as NetworkError).exitCode).toBe(5);
      expect(error.message).toContain(`POST ${url}: refused`);
      expect(error.message).not.toContain('\n');
      expect(blocked).toEqual([]);
    },
  );

  it.each([
    ['ca-alias.example.test', '169.254.169.254'],
    ['v6-alias.example.test', 'fe80::1'],
    ['mapped-alias.example.test', '::ffff:169.254.169.254'],
    ['mixed.example.test', '169.254.169.254'],
  ])(
    'a name the CA gives that resolves to a link-local address (%s → %s) is refused at connect time',
    async (host, address) => {
      const url = `https://${host}/acme/authz/1`;
      const error = await failure(
        transport.request({ method: 'POST', url, body: '{}', userHost: 'acme.example.test' }),
      );
      expect(error).toBeInstanceOf(PermanentNetworkError);
      expect((error as NetworkError).exitCode).toBe(5);
      expect(error.message).toContain(`POST ${url}: refused`);
      expect(error.message).toContain(address);
      expect(blocked).toEqual([]);
    },
  );

  it('plain http:// to a .localhost name is refused when the name resolves to a non-loopback address', async () => {
    const url = 'http://public.localhost:8080/directory';
    const error = await failure(transport.request({ method: 'GET', url, userHost: 'public.localhost' }));
    expect(error).toBeInstanceOf(PermanentNetworkError);
    expect(error.message).toContain(`GET ${url}: refused`);
    expect(error.message).toContain('198.51.100.10');
    expect(blocked).toEqual([]);
  });

  it('DNS rebinding: a name that resolved to loopback for one connection and to 169.254.169.254 for the next is refused the second time', async () => {
    const server = createHttpServer((_req, res) => res.writeHead(200, { connection: 'close' }).end('{}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    rebindLookups = 0;
    try {
      const url = `http://rebind.localhost:${port}/directory`;
      const first = await transport.request({ method: 'GET', url });
      expect(first.status).toBe(200);
      const error = await failure(transport.request({ method: 'GET', url }));
      expect(error).toBeInstanceOf(PermanentNetworkError);
      expect(error.message).toContain(`GET ${url}: refused`);
      expect(error.message).toContain('169.254.169.254');
      expect(rebindLookups).toBe(2);
      expect(blocked).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('the directory the user named may be on such a host: the rule lets it through (the test guard then blocks the connect)', async () => {
    for (const [url, userHost, address] of [
      ['https://ca-alias.example.test/acme/new-order', 'ca-alias.example.test', '169.254.169.254'],
      ['https://169.254.10.5/acme/new-order', '169.254.10.5', '169.254.10.5'],
    ] as const) {
      blocked.length = 0;
      const error = await failure(transport.request({ method: 'POST', url, body: '{}', userHost }));
      expect(error).not.toBeInstanceOf(PermanentNetworkError);
      expect(error.message).not.toContain('refused');
      expect(blocked).toEqual([address]);
    }
  });

  describe('through the client, against the fake CA', () => {
    let fake: FakeCa;
    let client: AcmeClient;
    let clientTransport: Transport;
    const AUTHZ = 'https://169.254.169.254/latest/meta-data/iam/security-credentials/';
    const FINALIZE = 'https://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token';

    beforeAll(async () => {
      fake = await startFakeCa({
        interceptor: (request, res) => {
          if (request.resource !== 'newOrder') return false;
          res
            .writeHead(201, {
              'content-type': 'application/json',
              'replay-nonce': fake.issueNonce(),
              location: `${fake.origin}/order/99`,
            })
            .end(
              JSON.stringify({
                status: 'pending',
                identifiers: [{ type: 'dns', value: 'a.example.test' }],
                authorizations: [AUTHZ],
                finalize: FINALIZE,
              }),
            );
          return true;
        },
      });
      clientTransport = new Transport({ lookup: tableLookup });
      client = new AcmeClient({
        directoryUrl: fake.directoryUrl,
        accountKey: await generateKey('ec256'),
        transport: clientTransport,
      });
      await client.newAccount({ termsOfServiceAgreed: true });
    });

    afterAll(async () => {
      await clientTransport?.close();
      await fake?.stop();
    });

    it('fake CA: an order naming 169.254.169.254 and metadata.google.internal URLs: nothing is sent there (exit 5)', async () => {
      const { order } = await client.newOrder({ identifiers: [{ type: 'dns', value: 'a.example.test' }] });
      const authzError = await failure(client.getAuthorization(order.authorizations[0]!));
      expect(authzError).toBeInstanceOf(PermanentNetworkError);
      expect((authzError as NetworkError).exitCode).toBe(5);
      expect(authzError.message).toContain(`POST ${AUTHZ}: refused`);
      const finalizeError = await failure(client.finalize(order.finalize, new Uint8Array([0x30, 0x00])));
      expect(finalizeError).toBeInstanceOf(PermanentNetworkError);
      expect(finalizeError.message).toContain(`POST ${FINALIZE}: refused`);
      // Refused once each: a refusal is not retried.
      expect(blocked).toEqual([]);
    });
  });
});
