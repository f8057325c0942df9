/**
 * A fault-injecting HTTPS proxy for Pebble, on 127.0.0.1. It terminates TLS with a throw-away
 * certificate of its own and forwards to Pebble over TLS (trusting Pebble's throw-away CA),
 * keeping the client's Host header: Pebble builds every URL in its answers from it, so the whole
 * conversation, including the order, authorization and certificate URLs, runs through the proxy.
 *
 * Faults are chosen per request by rules that match the kind of request (from Pebble's paths)
 * and pick "the first N", "every k-th" or "each with probability p" (a seeded PRNG, so a failing
 * run can be replayed). Every request is recorded with its raw body, so tests can check what the
 * client sent: e.g. that newOrder reached the CA once per attempt, or that no signed body was
 * ever sent twice.
 *
 * Connections are taken as plain TCP and wrapped in TLS here, so a "reset" is a real TCP RST
 * (the client sees ECONNRESET) rather than an orderly close.
 */
import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { makeTestTls } from './pebble.js';
import { makeTempDir, removeTempDir } from './processes.js';

/** What a request is, told from Pebble's paths (and the method). */
export type RequestKind =
  | 'directory'
  | 'newNonce'
  | 'newAccount'
  | 'account'
  | 'newOrder'
  | 'order'
  | 'authz'
  | 'challenge'
  | 'finalize'
  | 'certificate'
  | 'revoke'
  | 'keyChange'
  | 'renewalInfo'
  | 'other';

/** Kinds whose requests are signed POSTs. */
export const SIGNED_KINDS: readonly RequestKind[] = [
  'newAccount',
  'account',
  'newOrder',
  'order',
  'authz',
  'challenge',
  'finalize',
  'certificate',
  'revoke',
  'keyChange',
];

/** Pebble's request paths (2.4 to 2.10), by prefix. */
const PEBBLE_PATHS: ReadonlyArray<[string, RequestKind]> = [
  ['/dir', 'directory'],
  ['/nonce-plz', 'newNonce'],
  ['/sign-me-up', 'newAccount'],
  ['/my-account/', 'account'],
  ['/order-plz', 'newOrder'],
  ['/my-order/', 'order'],
  ['/finalize-order/', 'finalize'],
  ['/authZ/', 'authz'],
  ['/chalZ/', 'challenge'],
  ['/certZ/', 'certificate'],
  ['/revoke-cert', 'revoke'],
  ['/rollover-account-key', 'keyChange'],
];

export function classifyRequest(method: string, path: string): RequestKind {
  const pathname = path.split('?')[0] ?? path;
  if (/renewal-?info/i.test(pathname)) return 'renewalInfo';
  for (const [prefix, kind] of PEBBLE_PATHS) {
    if (pathname === prefix || pathname.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) {
      if (kind === 'directory' && method !== 'GET') return 'other';
      return kind;
    }
  }
  return 'other';
}

export type Fault =
  /** Not forwarded: answers `status` with an RFC 8555 problem document (and Retry-After). */
  | { type: 'problem'; status: number; problem: string; detail?: string; retryAfter?: string }
  /** Not forwarded: answers `status` with an HTML page, as a load balancer or captive portal does. */
  | { type: 'html'; status: number }
  /**
   * A TCP RST. 'request': before forwarding (the CA never saw it); 'response': after Pebble
   * answered (the CA acted on it, the client never learns how).
   */
  | { type: 'reset'; stage: 'request' | 'response' }
  /**
   * No answer: 'headers' never forwards and never answers; 'body' forwards, sends the headers and
   * half the body, then nothing. Stalled connections are cut when the proxy stops.
   */
  | { type: 'stall'; stage: 'headers' | 'body' }
  /**
   * Forwards, then sends only the first `keep` fraction of the body (default 0.5).
   * 'content-length': the full length is declared and the connection closed early; 'chunked': the
   * message ends cleanly, short (nothing tells the client a part is missing).
   */
  | { type: 'truncate'; framing: 'content-length' | 'chunked'; keep?: number }
  /** Forwards and removes Replay-Nonce from the answer. */
  | { type: 'drop-nonce' }
  /** Not forwarded: 400 badNonce, with a fresh Replay-Nonce fetched from Pebble as a CA would send. */
  | { type: 'bad-nonce' };

export interface FaultRule {
  /** Shown in records and tables. */
  name: string;
  kinds: readonly RequestKind[] | 'any';
  /** Only requests with this method (e.g. 'POST'); any when omitted. */
  method?: string;
  fault: Fault;
  /** Which matching requests, counted since the last beginRun(): the first N... */
  first?: number;
  /** ...every k-th (k, 2k, 3k...)... */
  every?: number;
  /** ...or each with this probability (seeded PRNG). All matching requests when none is given. */
  probability?: number;
}

export interface ProxiedRequest {
  /** 0-based, over the proxy's lifetime. */
  seq: number;
  /** The label given to beginRun(). */
  run: string;
  /** Milliseconds since the proxy started (performance.now based), when the request had arrived in full. */
  atMs: number;
  method: string;
  path: string;
  kind: RequestKind;
  body: Buffer;
  /** Name of the rule that injected a fault into this request. */
  fault?: string;
  faultType?: Fault['type'];
  /** Whether Pebble received the request. */
  forwarded: boolean;
  /** Pebble's status, when it answered. */
  upstreamStatus?: number;
  /** Pebble's problem type, when it answered with one. */
  upstreamProblem?: string;
  /** The status the client was sent (undefined for resets and stalls). */
  status?: number;
}

export interface FaultProxy {
  readonly port: number;
  readonly origin: string;
  /** The directory URL through the proxy. */
  readonly directoryUrl: string;
  /** PEM of the throw-away CA that signed the proxy's own TLS certificate. */
  readonly caPem: string;
  /** Every request that got past the TLS handshake. */
  readonly requests: readonly ProxiedRequest[];
  /** Replaces the rules; requests already in flight keep their fault. */
  setRules(rules: readonly FaultRule[]): void;
  /** Labels the following requests and restarts the rules' counters (not the PRNG). */
  beginRun(label: string): void;
  /** Requests of one run. */
  requestsOf(run: string): ProxiedRequest[];
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Pebble's origin, e.g. https://127.0.0.1:14000. */
  upstreamOrigin: string;
  upstreamCaPem: string;
  /** PRNG seed for probability rules. */
  seed?: number;
}

/** mulberry32: small, fast and good enough to spread faults; the seed makes runs repeatable. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
]);

function endToEndHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) result[name] = value;
  }
  return result;
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

const ERROR_PAGE = (status: number): string =>
  `<!DOCTYPE html>\n<html><head><title>${status} Bad Gateway</title></head>\n` +
  `<body><center><h1>${status} Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n`;

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const dir = await makeTempDir('fault-proxy');
  const upstream = new URL(options.upstreamOrigin);
  // Keep-alive to Pebble: one TLS handshake per test instead of one per request.
  const upstreamAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16, ca: options.upstreamCaPem });
  const sockets = new Set<Socket>();
  const random = seededRandom(options.seed ?? 1);
  const requests: ProxiedRequest[] = [];
  const started = performance.now();
  let rules: readonly FaultRule[] = [];
  let counters = new Map<FaultRule, number>();
  let run = '';
  let netServer: NetServer | undefined;

  try {
    const tls = await makeTestTls(dir);
    const [key, cert] = await Promise.all([readFile(tls.serverKeyPath, 'utf8'), readFile(tls.serverCertPath, 'utf8')]);
    const secureContext = createSecureContext({ key, cert });

    const chooseFault = (method: string, kind: RequestKind): FaultRule | undefined => {
      for (const rule of rules) {
        if (rule.kinds !== 'any' && !rule.kinds.includes(kind)) continue;
        if (rule.method !== undefined && rule.method !== method) continue;
        const n = (counters.get(rule) ?? 0) + 1;
        counters.set(rule, n);
        const hit =
          rule.first !== undefined
            ? n <= rule.first
            : rule.every !== undefined
              ? n % rule.every === 0
              : rule.probability !== undefined
                ? random() < rule.probability
                : true;
        if (hit) return rule;
      }
      return undefined;
    };

    const forward = (
      req: IncomingMessage,
      body: Buffer,
      overrides: { method?: string; path?: string } = {},
    ): Promise<Upstream> =>
      new Promise((resolve, reject) => {
        const headers = endToEndHeaders(req.headers);
        const method = overrides.method ?? req.method ?? 'GET';
        if (overrides.method === undefined) headers['content-length'] = String(body.length);
        else delete headers['content-length'];
        const outgoing = httpsRequest(
          {
            hostname: upstream.hostname,
            port: upstream.port,
            method,
            path: overrides.path ?? req.url ?? '/',
            // The client's Host (this proxy) is kept, so Pebble's URLs point back here.
            headers,
            agent: upstreamAgent,
            timeout: 10_000,
          },
          (answer) => {
            const chunks: Buffer[] = [];
            answer.on('data', (chunk: Buffer) => chunks.push(chunk));
            answer.on('end', () =>
              resolve({
                status: answer.statusCode ?? 502,
                headers: endToEndHeaders(answer.headers),
                body: Buffer.concat(chunks),
              }),
            );
            answer.on('error', reject);
          },
        );
        outgoing.on('timeout', () =>
          outgoing.destroy(new Error(`Pebble did not answer ${method} ${req.url} within 10 s`)),
        );
        outgoing.on('error', reject);
        outgoing.end(overrides.method === undefined && body.length > 0 ? body : undefined);
      });

    /** A nonce Pebble issued, for the badNonce answers the proxy makes up. */
    const freshNonce = async (req: IncomingMessage): Promise<string | undefined> => {
      const answer = await forward(req, Buffer.alloc(0), { method: 'HEAD', path: '/nonce-plz' });
      const nonce = answer.headers['replay-nonce'];
      return Array.isArray(nonce) ? nonce[0] : nonce;
    };

    const reset = (res: ServerResponse): void => {
      const raw = (res.socket as (TLSSocket & { rawSocket?: Socket }) | null)?.rawSocket;
      if (raw && !raw.destroyed) raw.resetAndDestroy();
      else res.socket?.destroy();
    };

    const send = (res: ServerResponse, answer: Upstream): void => {
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
      res.end(answer.body);
    };

    const handle = async (req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest): Promise<void> => {
      const rule = chooseFault(entry.method, entry.kind);
      const fault = rule?.fault;
      if (rule) {
        entry.fault = rule.name;
        entry.faultType = rule.fault.type;
      }

      // Faults that keep the request from Pebble.
      if (fault?.type === 'problem') {
        const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        entry.status = fault.status;
        res.writeHead(fault.status, headers).end(
          JSON.stringify({
            type: `urn:ietf:params:acme:error:${fault.problem}`,
            detail: fault.detail ?? `injected by the fault proxy (${rule?.name})`,
            status: fault.status,
          }),
        );
        return;
      }
      if (fault?.type === 'html') {
        entry.status = fault.status;
        res.writeHead(fault.status, { 'content-type': 'text/html' }).end(ERROR_PAGE(fault.status));
        return;
      }
      if (fault?.type === 'reset' && fault.stage === 'request') {
        reset(res);
        return;
      }
      if (fault?.type === 'stall' && fault.stage === 'headers') return;
      if (fault?.type === 'bad-nonce') {
        const nonce = await freshNonce(req);
        entry.status = 400;
        res
          .writeHead(400, {
            'content-type': 'application/problem+json',
            ...(nonce !== undefined ? { 'replay-nonce': nonce } : {}),
          })
          .end(
            JSON.stringify({
              type: 'urn:ietf:params:acme:error:badNonce',
              detail: 'JWS has an invalid anti-replay nonce (injected by the fault proxy)',
              status: 400,
            }),
          );
        return;
      }

      const answer = await forward(req, entry.body);
      entry.forwarded = true;
      entry.upstreamStatus = answer.status;
      if (answer.status >= 400) {
        try {
          const problem = JSON.parse(answer.body.toString('utf8')) as { type?: unknown };
          if (typeof problem.type === 'string')
            entry.upstreamProblem = problem.type.replace('urn:ietf:params:acme:error:', '');
        } catch {
          // Not a problem document: nothing to record.
        }
      }

      // Faults on Pebble's answer.
      if (fault?.type === 'reset') {
        reset(res);
        return;
      }
      if (fault?.type === 'stall' || fault?.type === 'truncate') {
        const keep = fault.type === 'truncate' ? (fault.keep ?? 0.5) : 0.5;
        const half = answer.body.subarray(0, Math.floor(answer.body.length * keep));
        entry.status = answer.status;
        if (fault.type === 'truncate' && fault.framing === 'chunked') {
          const headers = { ...answer.headers };
          delete headers['content-length'];
          res.writeHead(answer.status, headers);
          res.end(half);
          return;
        }
        res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
        // The body stall keeps the connection open with the rest never coming; truncation closes it.
        res.write(half, () => {
          if (fault.type === 'truncate') res.socket?.end();
        });
        return;
      }
      if (fault?.type === 'drop-nonce') delete answer.headers['replay-nonce'];
      entry.status = answer.status;
      send(res, answer);
    };

    const httpServer = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const method = req.method ?? 'GET';
        const path = req.url ?? '/';
        const entry: ProxiedRequest = {
          seq: requests.length,
          run,
          atMs: performance.now() - started,
          method,
          path,
          kind: classifyRequest(method, path),
          body: Buffer.concat(chunks),
          forwarded: false,
        };
        requests.push(entry);
        handle(req, res, entry).catch((error: unknown) => {
          if (res.headersSent) {
            res.destroy();
            return;
          }
          entry.status = 502;
          res
            .writeHead(502, { 'content-type': 'text/plain' })
            .end(`fault proxy: ${error instanceof Error ? error.message : String(error)}`);
        });
      });
    });

    const server = createNetServer((raw) => {
      sockets.add(raw);
      raw.on('close', () => sockets.delete(raw));
      raw.on('error', () => undefined);
      const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext }) as TLSSocket & { rawSocket?: Socket };
      tlsSocket.rawSocket = raw;
      tlsSocket.on('error', () => raw.destroy());
      httpServer.emit('connection', tlsSocket);
    });
    netServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const origin = `https://127.0.0.1:${port}`;
    let stopping: Promise<void> | undefined;

    return {
      port,
      origin,
      directoryUrl: `${origin}/dir`,
      caPem: tls.caCertPem,
      requests,
      setRules(next) {
        rules = [...next];
        counters = new Map();
      },
      beginRun(label) {
        run = label;
        counters = new Map();
      },
      requestsOf: (label) => requests.filter((r) => r.run === label),
      stop() {
        stopping ??= (async () => {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          // Stalled and kept-alive connections would hold close() open: cut them.
          for (const socket of sockets) socket.destroy();
          httpServer.closeAllConnections();
          await closed;
          upstreamAgent.destroy();
          await removeTempDir(dir);
        })();
        return stopping;
      },
    };
  } catch (error) {
    netServer?.close();
    upstreamAgent.destroy();
    await removeTempDir(dir);
    throw error;
  }
}
