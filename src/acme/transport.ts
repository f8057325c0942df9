/**
 * HTTP for the ACME core (undici): TLS verification always on, an optional extra CA bundle for
 * private CAs, client-certificate TLS (EJBCA's port 8443 mode), proxies from the caller's
 * environment, timeouts, and a response size limit. Plain http:// is refused except for loopback,
 * for every URL, including those the CA hands out.
 */
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import type { Dispatcher, buildConnector } from 'undici';

type Undici = typeof import('undici');
import { NetworkError, UsageError, AbortedError, messageOf } from '../errors.js';

export interface TransportOptions {
  /** PEM text of extra trust anchors for the ACME server (added to the system roots). */
  caBundlePem?: string;
  /** Client certificate (PEM chain) and key (PEM) for mutual TLS. */
  clientCertificatePem?: string;
  clientKeyPem?: string;
  /** Proxy settings, usually from HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
  proxy?: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  userAgent?: string;
  connectTimeoutMs?: number;
  /** Time allowed for the response headers, and again for the body. */
  responseTimeoutMs?: number;
  maxResponseBytes?: number;
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
/** TLS alerts kept for error messages (bounded: only the latest few connections matter). */
const MAX_REMEMBERED_TLS_ALERTS = 32;

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
 * every system root plus the bundle, about 1 MB of native memory that is only freed when V8 gets
 * round to collecting its small JS wrapper. `renew --force` over 200 certificates with --ca-bundle
 * grew to 530 MB that way (scripts/soak.ts); one context per configuration keeps it flat.
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
      context = createSecureContext({
        ...(caBundlePem !== undefined ? { ca: [...rootCertificates, caBundlePem] } : {}),
        ...(clientCertificatePem !== undefined ? { cert: clientCertificatePem } : {}),
        ...(clientKeyPem !== undefined ? { key: clientKeyPem } : {}),
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

export class Transport {
  readonly userAgent: string;
  /** Created on the first request: undici's load costs more than a `renew` with nothing to do. */
  private dispatcher: Promise<{ undici: Undici; dispatcher: Dispatcher }> | undefined;
  private readonly options: TransportOptions;
  private readonly maxResponseBytes: number;
  private readonly responseTimeoutMs: number;
  private readonly hasClientCertificate: boolean;
  /**
   * TLS alerts by local port. In TLS 1.3 a server refuses a client certificate after the client
   * considers the handshake done; undici then reports only "other side closed", and the alert
   * (the actual reason) is seen only by the socket's own error listener.
   */
  private readonly tlsAlerts = new Map<number, string>();

  constructor(options: TransportOptions = {}) {
    this.userAgent = options.userAgent ?? 'acmecli';
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 30_000;
    this.hasClientCertificate = options.clientCertificatePem !== undefined;
    this.options = options;
  }

  private connect(): Promise<{ undici: Undici; dispatcher: Dispatcher }> {
    this.dispatcher ??= import('undici').then((undici) => ({ undici, dispatcher: this.createDispatcher(undici) }));
    return this.dispatcher;
  }

  private createDispatcher(undici: Undici): Dispatcher {
    const options = this.options;
    // Explicit, so Node's environment switch for disabling certificate checks cannot turn verification
    // off: the only way to trust another CA is --ca-bundle.
    const tls: Record<string, unknown> = { rejectUnauthorized: true };
    const secureContext = sharedSecureContext(options);
    if (secureContext !== undefined) {
      tls.secureContext = secureContext;
    } else {
      if (options.caBundlePem !== undefined) tls.ca = [...rootCertificates, options.caBundlePem];
      if (options.clientCertificatePem !== undefined) tls.cert = options.clientCertificatePem;
      if (options.clientKeyPem !== undefined) tls.key = options.clientKeyPem;
    }
    const connectOptions = { ...tls, timeout: options.connectTimeoutMs ?? 10_000 };
    const agentOptions = {
      connect: connectOptions,
      headersTimeout: this.responseTimeoutMs,
      bodyTimeout: this.responseTimeoutMs,
      keepAliveTimeout: 10_000,
    };
    const proxy = options.proxy;
    if (proxy && (proxy.httpsProxy || proxy.httpProxy)) {
      return new undici.EnvHttpProxyAgent({
        ...agentOptions,
        requestTls: tls,
        ...(proxy.httpsProxy ? { httpsProxy: proxy.httpsProxy } : {}),
        ...(proxy.httpProxy ? { httpProxy: proxy.httpProxy } : {}),
        ...(proxy.noProxy ? { noProxy: proxy.noProxy } : {}),
      });
    }
    return new undici.Agent({ ...agentOptions, connect: this.alertRecordingConnector(undici, connectOptions) });
  }

  private alertRecordingConnector(undici: Undici, options: buildConnector.BuildOptions): buildConnector.connector {
    const connect = undici.buildConnector(options);
    return (connectOptions, callback) =>
      connect(connectOptions, (...args) => {
        const socket = args[1];
        if (socket) {
          const port = socket.localPort;
          socket.on('error', (socketError: NodeJS.ErrnoException) => {
            if (port === undefined || !socketError.code?.startsWith('ERR_SSL_')) return;
            this.tlsAlerts.set(port, socketError.code);
            if (this.tlsAlerts.size > MAX_REMEMBERED_TLS_ALERTS) this.tlsAlerts.delete(this.tlsAlerts.keys().next().value as number);
          });
        }
        callback(...args);
      });
  }

  /** The TLS alert recorded for the connection an undici SocketError came from. */
  private tlsAlertFor(error: unknown): string | undefined {
    const port = (error as { socket?: { localPort?: unknown } } | undefined)?.socket?.localPort;
    if (typeof port !== 'number') return undefined;
    const alert = this.tlsAlerts.get(port);
    this.tlsAlerts.delete(port);
    return alert;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const url = assertAcceptableUrl(req.url, 'URL');
    const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
    let response: Dispatcher.ResponseData;
    try {
      const { undici, dispatcher } = await this.connect();
      response = await undici.request(url, {
        method: req.method,
        headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        dispatcher,
        ...(req.signal ? { signal: req.signal } : {}),
      });
    } catch (error) {
      throw this.translateError(error, req);
    }
    const body = await this.readBody(response, req);
    return { status: response.statusCode, url: url.href, headers: response.headers, body };
  }

  async close(): Promise<void> {
    if (this.dispatcher) await (await this.dispatcher).dispatcher.close();
  }

  private async readBody(response: Dispatcher.ResponseData, req: HttpRequest): Promise<Buffer> {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
      response.body.destroy();
      throw new PermanentNetworkError(`${req.method} ${req.url}: response of ${declared} bytes exceeds the ${this.maxResponseBytes}-byte limit`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > this.maxResponseBytes) {
          response.body.destroy();
          throw new PermanentNetworkError(`${req.method} ${req.url}: response exceeds the ${this.maxResponseBytes}-byte limit`);
        }
        chunks.push(buffer);
      }
    } catch (error) {
      if (error instanceof NetworkError) throw error;
      if (req.signal?.aborted) throw this.translateError(error, req);
      // The headers came and the body broke off: say how far it got, or a cut-off answer reads
      // like a refused connection.
      const code = errorCode(error);
      const received = Number.isFinite(declared) ? `${size} of ${declared} bytes` : `${size} bytes`;
      if (code === 'UND_ERR_BODY_TIMEOUT') {
        throw new NetworkError(`${req.method} ${req.url}: the server stopped answering after ${received} of the response (${code})`, { cause: error });
      }
      throw new NetworkError(
        `${req.method} ${req.url}: the response was cut off after ${received} (truncated body: ${describeNetworkCode(code ?? messageOf(error))})`,
        { cause: error },
      );
    }
    return Buffer.concat(chunks);
  }

  private translateError(error: unknown, req: HttpRequest): Error {
    if (req.signal?.aborted) return new AbortedError('cancelled', { cause: error });
    const code = this.tlsAlertFor(error) ?? errorCode(error);
    const target = `${req.method} ${req.url}`;
    if (code !== undefined && TLS_TRUST_CODES.has(code)) {
      return new PermanentNetworkError(
        `${target}: the server's TLS certificate is not trusted (${code})`,
        { cause: error, hint: "pass the CA that signed the ACME server's certificate with --ca-bundle FILE" },
      );
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'CERT_HAS_EXPIRED') {
      return new PermanentNetworkError(`${target}: the server's TLS certificate is not valid for this host (${code})`, { cause: error });
    }
    if (code !== undefined && CLIENT_CERTIFICATE_ALERTS.has(code)) {
      return new PermanentNetworkError(
        `${target}: the server refused the TLS connection (${code}): it wants a client certificate${this.hasClientCertificate ? ' and did not accept the one given' : ''}`,
        {
          cause: error,
          hint: this.hasClientCertificate
            ? 'check that --client-cert is issued by a CA the server trusts for client authentication'
            : 'this server demands a client certificate (EJBCA on port 8443): pass --client-cert FILE and --client-key FILE',
        },
      );
    }
    const reason = code ?? messageOf(error);
    return new NetworkError(`${target}: ${describeNetworkCode(reason)}`, { cause: error });
  }
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET' && code !== 'UND_ERR_CONNECT') return code;
    current = (current as { cause?: unknown }).cause;
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeNetworkCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ECONNRESET':
      return 'connection reset by the server (ECONNRESET)';
    case 'UND_ERR_SOCKET':
      // An orderly close (FIN) before the answer was complete, which is not a reset.
      return 'the server closed the connection before answering in full (UND_ERR_SOCKET)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name not found (${code})`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `the server stopped answering (${code})`;
    default:
      return code;
  }
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
        rels.push(...relText.split(/\s+/).filter(Boolean).map((r) => r.toLowerCase()));
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
