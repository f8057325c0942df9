/**
 * HTTP for the ACME core, on Node's own http/https: TLS verification always on, an optional extra
 * CA bundle for private CAs, client-certificate TLS (EJBCA's port 8443 mode), proxies from the
 * caller's environment, timeouts, and a response size limit. Plain http:// is refused except for
 * loopback, for every URL, including those the CA hands out; link-local and cloud metadata
 * destinations are refused unless the user named them (destination.ts).
 *
 * Node's client rather than undici: undici's load and its WebAssembly HTTP parser cost a large
 * share of a whole issuance's resident memory and CPU time (figures: README, Performance).
 */
import type { Agent as HttpAgent, ClientRequest, IncomingMessage } from 'node:http';
import type { LookupFunction, Socket } from 'node:net';
import { isIP } from 'node:net';
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import { NetworkError, UsageError, AbortedError, messageOf } from '../errors.js';
import { checkedLookup, forbiddenDestination, isUserHost } from './destination.js';

export interface TransportOptions {
  /** PEM text of extra trust anchors for the ACME server (added to the default roots, not replacing them). */
  caBundlePem?: string;
  /** Client certificate (PEM chain) and key (PEM) for mutual TLS. */
  clientCertificatePem?: string;
  clientKeyPem?: string;
  /** Proxy settings, usually from HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
  proxy?: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  userAgent?: string;
  /** Time allowed for the TCP connection and the TLS handshake. */
  connectTimeoutMs?: number;
  /** Time allowed for the response headers, and again for each pause in the body. */
  responseTimeoutMs?: number;
  /**
   * Time allowed for the whole request, from connecting to the last byte of the answer (default:
   * responseTimeoutMs). The other timers only notice silence; a server that sends one byte a second
   * is never silent.
   */
  requestTimeoutMs?: number;
  maxResponseBytes?: number;
  /** Resolves host names (default: Node's dns.lookup); tests give one to control the answers. */
  lookup?: LookupFunction;
}

export interface HttpResponse {
  status: number;
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /**
   * The host the user named (the ACME directory's): the only one that may be link-local or a
   * cloud metadata address. Every other host is the CA's choice.
   */
  userHost?: string;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * A transport failure that asking again cannot fix (an answer over the size limit, a TLS
 * certificate that is not trusted): the client does not retry it.
 */
export class PermanentNetworkError extends NetworkError {}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * TLS alerts a server sends when it wants a client certificate and got none, or one it does not
 * trust: TLS 1.3 certificate_required (116), bad_certificate (42), unknown_ca (48), and TLS 1.2's
 * generic handshake_failure (40), which is what OpenSSL servers send for a missing certificate.
 */
const CLIENT_CERTIFICATE_ALERTS = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
]);

const MAX_CONNECTIONS_PER_ORIGIN = 8;

/** Failure codes of this transport's own, for what Node reports without a code of its own. */
const CONNECT_TIMEOUT = 'CONNECT_TIMEOUT';
const HEADERS_TIMEOUT = 'HEADERS_TIMEOUT';
const BODY_TIMEOUT = 'BODY_TIMEOUT';
/** The whole request took longer than requestTimeoutMs. */
const DEADLINE = 'DEADLINE';
/** The server closed the connection (FIN, not a reset) before its answer was complete. */
const SERVER_CLOSED = 'SERVER_CLOSED';

/** The timers of one request: each fires at most once, and all are cleared when it settles. */
class RequestTimers {
  private readonly pending = new Set<NodeJS.Timeout>();

  start(ms: number, onFire: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      onFire();
    }, ms);
    this.pending.add(timer);
    return timer;
  }

  stop(timer: NodeJS.Timeout | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.pending.delete(timer);
  }

  clear(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}

class TransportFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** Throws unless `url` is https, or http to a loopback host. `what` names it in the error. */
export function assertAcceptableUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${what} is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol === 'https:') return parsed;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return parsed;
  if (parsed.protocol === 'http:') {
    throw new UsageError(`${what} uses plain http:// (${parsed.host}): ACME needs https:// except on loopback`);
  }
  throw new UsageError(`${what} must be an https:// URL, got ${parsed.protocol}//`);
}

/**
 * TLS contexts by trust anchors and client certificate, shared by every Transport of the process.
 * Given `ca` (or a client certificate), node builds a new context for each connection: a store of
 * every default root plus the bundle, native memory that is only freed when V8 gets round to
 * collecting its small JS wrapper. `renew --force` over many certificates with --ca-bundle grew
 * without bound that way (scripts/soak.ts); one context per configuration keeps it flat.
 */
const secureContexts = new Map<string, SecureContext>();
const MAX_SECURE_CONTEXTS = 16;

function sharedSecureContext(options: TransportOptions): SecureContext | undefined {
  const { caBundlePem, clientCertificatePem, clientKeyPem } = options;
  if (caBundlePem === undefined && clientCertificatePem === undefined && clientKeyPem === undefined) return undefined;
  const cacheKey = JSON.stringify([caBundlePem ?? null, clientCertificatePem ?? null, clientKeyPem ?? null]);
  let context = secureContexts.get(cacheKey);
  if (context === undefined) {
    try {
      const clientIdentity = {
        ...(clientCertificatePem !== undefined ? { cert: clientCertificatePem } : {}),
        ...(clientKeyPem !== undefined ? { key: clientKeyPem } : {}),
      };
      context = createSecureContext({
        ...clientIdentity,
        ...(caBundlePem !== undefined ? { ca: trustAnchors(caBundlePem) } : {}),
      });
    } catch {
      // Unusable material (a key that does not match the certificate): left to the connection,
      // whose error is translated into a message as before.
      return undefined;
    }
    if (secureContexts.size >= MAX_SECURE_CONTEXTS) secureContexts.delete(secureContexts.keys().next().value as string);
    secureContexts.set(cacheKey, context);
  }
  return context;
}

/**
 * What a connection trusts given --ca-bundle: the roots Node trusts by default (its bundled Mozilla
 * set, NODE_EXTRA_CA_CERTS and, under --use-system-ca, the system store) and the bundle besides.
 * The `ca` option replaces Node's defaults instead of adding to them, so they are spelled out.
 */
function trustAnchors(caBundlePem: string): string[] {
  return [...getCACertificates('default'), caBundlePem];
}

interface Agents {
  httpsRequest: typeof import('node:https').request;
  httpRequest: typeof import('node:http').request;
  https: HttpAgent;
  http: HttpAgent;
  lookup: LookupFunction;
}

/** How far one request got, for saying where the deadline caught it. */
interface Progress {
  connected: boolean;
  /** Bytes received before the response headers were complete. */
  headBytes: number;
  /** Set once the headers are in: body bytes so far, and the declared length. */
  body?: { received: number; declared: number };
}

export class Transport {
  readonly userAgent: string;
  /** Created on the first request: a `renew` with nothing to do never loads Node's HTTP client. */
  private agents: Promise<Agents> | undefined;
  private readonly options: TransportOptions;
  private readonly maxResponseBytes: number;
  private readonly responseTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly hasClientCertificate: boolean;

  constructor(options: TransportOptions = {}) {
    this.userAgent = options.userAgent ?? 'acmecli';
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 30_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? this.responseTimeoutMs;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.hasClientCertificate = options.clientCertificatePem !== undefined;
    this.options = options;
  }

  private loadAgents(): Promise<Agents> {
    // getBuiltinModule, not import(): an ES namespace of node:http runs every lazy getter of the
    // module, which loads Node's internal undici (26 ms) for a WebSocket nobody asked for.
    this.agents ??= Promise.resolve().then(() => {
      const https = process.getBuiltinModule('node:https');
      const http = process.getBuiltinModule('node:http');
      const options = this.options;
      // Explicit, so Node's environment switch for disabling certificate checks cannot turn
      // verification off: the only way to trust another CA is --ca-bundle.
      const tls: Record<string, unknown> = { rejectUnauthorized: true };
      const secureContext = sharedSecureContext(options);
      if (secureContext !== undefined) {
        tls.secureContext = secureContext;
      } else {
        if (options.caBundlePem !== undefined) tls.ca = trustAnchors(options.caBundlePem);
        if (options.clientCertificatePem !== undefined) tls.cert = options.clientCertificatePem;
        if (options.clientKeyPem !== undefined) tls.key = options.clientKeyPem;
      }
      const proxy = options.proxy;
      // Node's own proxy support (CONNECT tunnels for https, NO_PROXY matching) reads only what
      // it is given here, never the process environment behind the caller's back.
      const proxyEnv =
        proxy && (proxy.httpsProxy || proxy.httpProxy)
          ? {
              ...(proxy.httpsProxy ? { HTTPS_PROXY: proxy.httpsProxy } : {}),
              ...(proxy.httpProxy ? { HTTP_PROXY: proxy.httpProxy } : {}),
              ...(proxy.noProxy ? { NO_PROXY: proxy.noProxy } : {}),
            }
          : undefined;
      // The core runs at most 8 requests at once; without a cap, a request issued just before
      // another's socket came free opened a new connection: 32 TLS handshakes for 50 names.
      const common = { keepAlive: true, maxSockets: MAX_CONNECTIONS_PER_ORIGIN, ...(proxyEnv ? { proxyEnv } : {}) };
      return {
        httpsRequest: https.request,
        httpRequest: http.request,
        https: new https.Agent({ ...common, ...tls }),
        http: new http.Agent(common),
        lookup: options.lookup ?? process.getBuiltinModule('node:dns').lookup,
      };
    });
    return this.agents;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const url = assertAcceptableUrl(req.url, 'URL');
    const target = `${req.method} ${req.url}`;
    // Literal addresses never reach the lookup hook: checked here, before any socket exists.
    const forbidden = isUserHost(url.hostname, req.userHost) ? undefined : forbiddenDestination(url.hostname);
    if (forbidden !== undefined) throw refusedDestination(target, `${url.hostname} is ${forbidden}`, true);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    let agents: Agents;
    try {
      agents = await this.loadAgents();
    } catch (error) {
      throw this.translateError(error, req);
    }
    if (req.signal?.aborted) throw new AbortedError('cancelled', { cause: req.signal.reason });
    return new Promise<HttpResponse>((resolve, reject) => {
      const timers = new RequestTimers();
      const progress: Progress = { connected: false, headBytes: 0 };
      let settled = false;
      /** The socket's own error, which tells a reset (RST) from an orderly close (FIN). */
      let socketError: NodeJS.ErrnoException | undefined;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        timers.clear();
        outcome();
      };
      const fail = (error: Error): void => settle(() => reject(error));

      const secure = url.protocol === 'https:';
      const lookup = checkedLookup(
        agents.lookup,
        { userHost: req.userHost, loopbackOnly: !secure },
        (hostname, address, reason) =>
          refusedDestination(target, `${hostname} resolves to ${address}, ${reason}`, secure),
      );
      const client: ClientRequest = (secure ? agents.httpsRequest : agents.httpRequest)(url, {
        method: req.method,
        headers,
        agent: secure ? agents.https : agents.http,
        lookup,
        ...(req.signal ? { signal: req.signal } : {}),
      });
      // One deadline for the whole exchange, on top of the timers below: those only notice
      // silence, and a server sending a byte every two seconds kept a request alive for minutes.
      timers.start(this.requestTimeoutMs, () => client.destroy(new TransportFailure(DEADLINE)));
      const headersTimer =
        this.responseTimeoutMs < this.requestTimeoutMs
          ? timers.start(this.responseTimeoutMs, () => client.destroy(new TransportFailure(HEADERS_TIMEOUT)))
          : undefined;
      client.on('socket', (socket: Socket) => {
        // A kept-alive socket serves many requests: each removes its own listeners when it ends.
        const recordSocketError = (error: NodeJS.ErrnoException): void => {
          socketError ??= error;
        };
        const countHeadBytes = (chunk: Buffer): void => {
          if (progress.body === undefined) progress.headBytes += chunk.length;
        };
        socket.on('error', recordSocketError);
        socket.on('data', countHeadBytes);
        client.once('close', () => {
          socket.off('error', recordSocketError);
          socket.off('data', countHeadBytes);
        });
        if (!socket.connecting) {
          progress.connected = true;
          return;
        }
        const connectTimer = timers.start(this.connectTimeoutMs, () =>
          client.destroy(new TransportFailure(CONNECT_TIMEOUT)),
        );
        socket.once('encrypted' in socket ? 'secureConnect' : 'connect', () => {
          progress.connected = true;
          timers.stop(connectTimer);
        });
      });
      client.on('error', (error) => fail(this.translateError(socketError ?? error, req, progress)));
      client.on('response', (response: IncomingMessage) => {
        timers.stop(headersTimer);
        this.readBody(response, req, client, timers, progress, () => socketError).then(
          (body) =>
            settle(() =>
              resolve({ status: response.statusCode ?? 0, url: url.href, headers: distinctHeaders(response), body }),
            ),
          (error: unknown) => fail(error instanceof Error ? error : this.translateError(error, req, progress)),
        );
      });
      client.end(req.body);
    });
  }

  async close(): Promise<void> {
    if (this.agents === undefined) return;
    const agents = await this.agents.catch(() => undefined);
    agents?.https.destroy();
    agents?.http.destroy();
  }

  private readBody(
    response: IncomingMessage,
    req: HttpRequest,
    client: ClientRequest,
    timers: RequestTimers,
    progress: Progress,
    socketError: () => NodeJS.ErrnoException | undefined,
  ): Promise<Buffer> {
    const declared = Number(response.headers['content-length']);
    const body = { received: 0, declared };
    progress.body = body;
    if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
      client.destroy();
      return Promise.reject(
        new PermanentNetworkError(
          `${req.method} ${req.url}: response of ${declared} bytes exceeds the ${this.maxResponseBytes}-byte limit`,
        ),
      );
    }
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let idleTimer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (outcome: () => void): void => {
        if (done) return;
        done = true;
        timers.stop(idleTimer);
        outcome();
      };
      const armIdleTimer = (): void => {
        timers.stop(idleTimer);
        idleTimer = timers.start(this.responseTimeoutMs, () => client.destroy(new TransportFailure(BODY_TIMEOUT)));
      };
      const broken = (error: unknown): void =>
        finish(() => {
          if (req.signal?.aborted) return reject(this.translateError(error, req));
          const cause = socketError() ?? error;
          const code = errorCode(cause);
          if (code === BODY_TIMEOUT) {
            return reject(
              new NetworkError(
                `${req.method} ${req.url}: the server stopped answering after ${bodyReceived(body)} of the response (no data for ${seconds(this.responseTimeoutMs)})`,
                { cause },
              ),
            );
          }
          if (code === DEADLINE) return reject(this.tooSlow(req, progress, cause));
          // The headers came and the body broke off: say how far it got, or a cut-off answer reads
          // like a refused connection.
          const reason =
            code === undefined || isOrderlyClose(cause)
              ? describeNetworkCode(SERVER_CLOSED, this.responseTimeoutMs)
              : describeNetworkCode(code, this.responseTimeoutMs);
          reject(
            new NetworkError(
              `${req.method} ${req.url}: the response was cut off after ${bodyReceived(body)} (truncated body: ${reason})`,
              { cause },
            ),
          );
        });
      armIdleTimer();
      response.on('data', (chunk: Buffer) => {
        body.received += chunk.length;
        if (body.received > this.maxResponseBytes) {
          client.destroy();
          finish(() =>
            reject(
              new PermanentNetworkError(
                `${req.method} ${req.url}: response exceeds the ${this.maxResponseBytes}-byte limit`,
              ),
            ),
          );
          return;
        }
        chunks.push(chunk);
        armIdleTimer();
      });
      response.on('error', broken);
      response.on('aborted', () => broken(new TransportFailure(SERVER_CLOSED)));
      response.on('end', () => {
        // Node ends a body cut short by the server's FIN too; only the declared length tells.
        if (!response.complete) return broken(new TransportFailure(SERVER_CLOSED));
        finish(() => resolve(Buffer.concat(chunks)));
      });
    });
  }

  /** The deadline passed: where it caught the request, and the limit. */
  private tooSlow(req: HttpRequest, progress: Progress, cause: unknown): NetworkError {
    const limit = `${seconds(this.requestTimeoutMs)}, the limit for one request`;
    const target = `${req.method} ${req.url}`;
    let what: string;
    if (!progress.connected) what = `connection timed out (no connection within ${limit})`;
    else if (progress.body !== undefined)
      what = `the server sent its response too slowly (${bodyReceived(progress.body)} in ${limit})`;
    else if (progress.headBytes > 0)
      what = `the server sent its response headers too slowly (${progress.headBytes} bytes in ${limit})`;
    else what = describeNetworkCode(HEADERS_TIMEOUT, this.requestTimeoutMs);
    return new NetworkError(`${target}: ${what}`, { cause });
  }

  private translateError(error: unknown, req: HttpRequest, progress?: Progress): Error {
    if (req.signal?.aborted) return new AbortedError('cancelled', { cause: error });
    // Already said in full (a destination refused by the lookup hook).
    if (error instanceof NetworkError) return error;
    const code = isOrderlyClose(error) ? SERVER_CLOSED : errorCode(error);
    if (code === DEADLINE && progress !== undefined) return this.tooSlow(req, progress, error);
    const target = `${req.method} ${req.url}`;
    if (code !== undefined && TLS_TRUST_CODES.has(code)) {
      return new PermanentNetworkError(`${target}: the server's TLS certificate is not trusted (${code})`, {
        cause: error,
        advice: { kind: 'serverCertificateUntrusted' },
      });
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'CERT_HAS_EXPIRED') {
      return new PermanentNetworkError(`${target}: the server's TLS certificate is not valid for this host (${code})`, {
        cause: error,
      });
    }
    if (code !== undefined && CLIENT_CERTIFICATE_ALERTS.has(code)) {
      return new PermanentNetworkError(
        `${target}: the server refused the TLS connection (${code}): it wants a client certificate${this.hasClientCertificate ? ' and did not accept the one given' : ''}`,
        {
          cause: error,
          advice: { kind: this.hasClientCertificate ? 'clientCertificateRefused' : 'clientCertificateRequired' },
        },
      );
    }
    const reason = code ?? messageOf(error);
    return new NetworkError(`${target}: ${describeNetworkCode(reason, this.responseTimeoutMs)}`, { cause: error });
  }
}

function bodyReceived(body: { received: number; declared: number }): string {
  return Number.isFinite(body.declared) ? `${body.received} of ${body.declared} bytes` : `${body.received} bytes`;
}

/**
 * A destination the rule in destination.ts forbids: permanent (asking again reaches the same
 * place) and a network failure (exit 5) like the CA's other unusable answers, not a CA refusal (3),
 * which is reserved for the CA's own problem documents.
 */
function refusedDestination(target: string, why: string, exemptIfUserNamed: boolean): PermanentNetworkError {
  const exemption = exemptIfUserNamed ? '; allowed only when the ACME directory is on that host' : '';
  return new PermanentNetworkError(`${target}: refused: ${why}${exemption}`);
}

/** Node reports a connection closed without an answer as "socket hang up", with a reset's code. */
function isOrderlyClose(error: unknown): boolean {
  if (error instanceof TransportFailure) return error.code === SERVER_CLOSED;
  return (
    error instanceof Error &&
    (error.message === 'socket hang up' || error.message === 'aborted') &&
    (error as NodeJS.ErrnoException).code === 'ECONNRESET'
  );
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function describeNetworkCode(code: string, responseTimeoutMs: number): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
      return 'connection reset by the server (ECONNRESET)';
    case SERVER_CLOSED:
      // An orderly close (FIN) before the answer was complete, which is not a reset.
      return 'the server closed the connection before answering in full';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name not found (${code})`;
    case CONNECT_TIMEOUT:
    case 'ETIMEDOUT':
      return 'connection timed out';
    case HEADERS_TIMEOUT:
      return `the server stopped answering (no response within ${seconds(responseTimeoutMs)})`;
    default:
      return code;
  }
}

/** Every header as Node received it; repeated headers (Link) stay separate values. */
function distinctHeaders(response: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(response.headersDistinct)) {
    if (values !== undefined) headers[name] = values.length === 1 ? values[0]! : values;
  }
  return headers;
}

/** Case-insensitive single header value. */
export function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0];
  return value;
}

/** All values of a header, split across repeated headers. */
export function headerValues(headers: HttpResponse['headers'], name: string): string[] {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns seconds (≥ 0) or
 * undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, now: Date = new Date()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), 10 * 365 * 86400);
  // An HTTP-date always names a weekday or month; bare numbers like "-5" are not dates.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now.getTime()) / 1000));
}

export interface LinkValue {
  url: string;
  rel: string[];
}

/**
 * Parses RFC 8288 Link headers: `<url>; rel="alternate", <url2>;rel=up`. Tolerant of commas
 * inside <...> and quoted strings; resolves relative URLs against `base`.
 */
export function parseLinkHeaders(values: readonly string[], base: string): LinkValue[] {
  const links: LinkValue[] = [];
  for (const value of values) {
    let i = 0;
    const text = value;
    while (i < text.length && links.length < 100) {
      const open = text.indexOf('<', i);
      if (open < 0) break;
      const close = text.indexOf('>', open + 1);
      if (close < 0) break;
      const target = text.slice(open + 1, close);
      // Parameters run until the next comma outside quotes.
      let j = close + 1;
      let inQuotes = false;
      while (j < text.length) {
        const ch = text[j];
        if (ch === '"') inQuotes = !inQuotes;
        else if (ch === ',' && !inQuotes) break;
        j++;
      }
      const params = text.slice(close + 1, j);
      const rels: string[] = [];
      for (const match of params.matchAll(/;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/gi)) {
        const relText = match[1] ?? match[2] ?? '';
        rels.push(
          ...relText
            .split(/\s+/)
            .filter(Boolean)
            .map((r) => r.toLowerCase()),
        );
      }
      try {
        links.push({ url: new URL(target, base).href, rel: rels });
      } catch {
        // An unparseable link target is ignored, as a browser would.
      }
      i = j + 1;
    }
  }
  return links;
}
