/**
 * AcmeClient: plumbing, one method per RFC 8555 resource. It keeps no state beyond one CA
 * conversation (directory, nonces, account URL); the order flow lives in obtain.ts.
 *
 * Retry rules: a signed body is never re-sent as is — every attempt is signed anew with a fresh
 * nonce. badNonce is retried (the server did not act on it). Reads (POST-as-GET, GET) and
 * requests the RFC makes idempotent are retried on network errors and 5xx/429 with a short
 * Retry-After; creating requests (newOrder, finalize, revokeCert, newAccount) are not.
 */
import type { KeyObject } from 'node:crypto';
import { AcmecliError, ExitCode, NetworkError, UsageError } from '../errors.js';
import type { Logger } from '../output/logger.js';
import { silentLogger } from '../output/logger.js';
import { delay } from './delay.js';
import {
  signExternalAccountBinding,
  signKeyChange,
  signRequest,
  type ExternalAccountBinding,
  type SignerIdentity,
} from './jws.js';
import { NoncePool } from './nonce-pool.js';
import { AcmeProblemError, BadNonceError, problemError } from './problem.js';
import {
  assertAcceptableUrl,
  headerValue,
  headerValues,
  parseLinkHeaders,
  parseRetryAfter,
  PermanentNetworkError,
  type HttpResponse,
  type Transport,
} from './transport.js';
import type {
  Account,
  Authorization,
  Challenge,
  Directory,
  Identifier,
  Order,
  ProblemDocument,
  RenewalInfo,
} from './types.js';

export interface RetryPolicy {
  /** Re-signs after badNonce at most this many times. */
  badNonceRetries: number;
  /** Extra attempts for retryable requests after a network error or 5xx/429. */
  transientRetries: number;
  /** A Retry-After longer than this is not waited for: the error surfaces instead. */
  maxRetryAfterMs: number;
  /** Base of the exponential back-off when no Retry-After is given. */
  backoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  badNonceRetries: 10,
  transientRetries: 3,
  maxRetryAfterMs: 20_000,
  backoffMs: 250,
};

export interface AcmeClientOptions {
  directoryUrl: string;
  accountKey: KeyObject;
  /** Known account URL (kid); otherwise set by newAccount/findAccount. */
  accountUrl?: string;
  transport: Transport;
  log?: Logger;
  retry?: Partial<RetryPolicy>;
}

export interface AcmeResponse<T = unknown> {
  status: number;
  headers: HttpResponse['headers'];
  body: Buffer;
  /** Parsed JSON when the response carried JSON. */
  data: T;
  location: string | undefined;
  retryAfterSeconds: number | undefined;
  links: ReturnType<typeof parseLinkHeaders>;
}

interface PostOptions {
  signal?: AbortSignal;
  /** Sign with `jwk` instead of the account URL (newAccount, revokeCert by certificate key). */
  identity?: 'jwk' | 'kid';
  /** Another key than the account key (revocation by certificate key). */
  key?: KeyObject;
  /** Safe to repeat: POST-as-GET reads, challenge responses, deactivations. */
  retryable?: boolean;
  accept?: string;
  /** Parse the body as JSON (default true). */
  json?: boolean;
}

export interface NewAccountOptions {
  contact?: readonly string[];
  termsOfServiceAgreed?: boolean;
  onlyReturnExisting?: boolean;
  externalAccountBinding?: ExternalAccountBinding;
}

export interface NewOrderOptions {
  identifiers: readonly Identifier[];
  notBefore?: Date | string;
  notAfter?: Date | string;
  profile?: string;
  /** ARI certificate identifier of the certificate this order replaces (RFC 9773 §5). */
  replaces?: string;
}

export interface CertificateDownload {
  /** The PEM chain as the CA sent it (leaf first). */
  pem: string;
  /** URLs of alternate chains (Link rel="alternate") that may be fetched. */
  alternates: string[];
  /** Alternate chain links that break the URL rules (plain http://...), with the reason. */
  refusedAlternates: Array<{ url: string; reason: string }>;
}

function toIsoString(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : value;
}

export class AcmeClient {
  readonly directoryUrl: string;
  /** The directory's host, which the user chose: the transport lets only it be link-local. */
  private readonly userHost: string;
  private accountKeyValue: KeyObject;
  private accountUrlValue: string | undefined;
  private readonly transport: Transport;
  private readonly log: Logger;
  private readonly retry: RetryPolicy;
  private readonly nonces = new NoncePool();
  private directoryPromise: Promise<Directory> | undefined;

  constructor(options: AcmeClientOptions) {
    const directoryUrl = assertAcceptableUrl(options.directoryUrl, 'the ACME directory URL');
    this.directoryUrl = directoryUrl.href;
    this.userHost = directoryUrl.hostname;
    this.accountKeyValue = options.accountKey;
    this.accountUrlValue = options.accountUrl;
    this.transport = options.transport;
    this.log = options.log ?? silentLogger;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  get accountUrl(): string | undefined {
    return this.accountUrlValue;
  }

  get accountKey(): KeyObject {
    return this.accountKeyValue;
  }

  // ---- directory and nonces ------------------------------------------------------------

  /** The directory, fetched once per client (lazily, so constructing a client is free). */
  directory(signal?: AbortSignal): Promise<Directory> {
    if (!this.directoryPromise) {
      this.directoryPromise = this.fetchDirectory(signal);
      this.directoryPromise.catch(() => {
        this.directoryPromise = undefined;
      });
    }
    return this.directoryPromise;
  }

  private async fetchDirectory(signal?: AbortSignal): Promise<Directory> {
    const response = await this.sendUnsigned(this.directoryUrl, signal);
    const data = this.parseJson(response, 'the directory') as Partial<Directory>;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new NetworkError(`${this.directoryUrl} is not an ACME directory (expected a JSON object)`);
    }
    for (const field of ['newNonce', 'newAccount', 'newOrder'] as const) {
      if (typeof data[field] !== 'string') {
        throw new NetworkError(`${this.directoryUrl} is not an ACME directory: it has no "${field}" URL`);
      }
    }
    for (const [name, value] of Object.entries(data)) {
      if (name !== 'meta' && typeof value === 'string') assertCaUrl(value, `the directory's ${name} URL`);
    }
    return data as Directory;
  }

  private async resourceUrl(name: keyof Directory & string, signal?: AbortSignal): Promise<string> {
    const directory = await this.directory(signal);
    const url = directory[name];
    if (typeof url !== 'string') {
      throw new AcmeFeatureError(`this CA does not offer ${name} (no "${name}" in its directory)`);
    }
    return url;
  }

  private async freshNonce(signal?: AbortSignal): Promise<string> {
    const pooled = this.nonces.take();
    if (pooled !== undefined) return pooled;
    const url = await this.resourceUrl('newNonce', signal);
    // GET (answered 204) rather than HEAD: Go servers answer HEAD without a Content-Length, and
    // Node's HTTP client then closes the connection, so every nonce cost a new TLS handshake.
    await this.sendUnsigned(url, signal, { nonceOnly: true });
    // sendUnsigned pooled the answer's nonce: take it back out rather than reading the header,
    // or the same nonce would be used twice (the second use costs a badNonce round trip).
    const nonce = this.nonces.take();
    if (nonce === undefined) throw new NetworkError(`GET ${url}: the CA returned no usable Replay-Nonce header`);
    return nonce;
  }

  /**
   * GET with retries on network errors and 5xx (reads are always safe to repeat). For newNonce
   * (`nonceOnly`) only the Replay-Nonce matters, so a 4xx that carries one is good enough.
   */
  private async sendUnsigned(
    url: string,
    signal?: AbortSignal,
    options: { nonceOnly?: boolean } = {},
  ): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let response: HttpResponse;
      try {
        response = await this.transport.request({
          method: 'GET',
          url,
          signal,
          headers: { accept: 'application/json' },
          userHost: this.userHost,
        });
      } catch (error) {
        if (isRetryableNetworkError(error) && attempt < this.retry.transientRetries) {
          await this.backoff(attempt, signal);
          continue;
        }
        throw error;
      }
      this.nonces.add(headerValue(response.headers, 'replay-nonce'));
      this.log.debug(`GET ${url} → ${response.status}`);
      if (response.status < 400 || (options.nonceOnly === true && response.status < 500)) return response;
      const error = this.responseError(response, 'GET', url);
      if (this.isTransient(error, response) && attempt < this.retry.transientRetries) {
        const waitMs = this.retryDelayMs(attempt, response);
        if (waitMs !== undefined) {
          await delay(waitMs, signal);
          continue;
        }
      }
      throw error;
    }
  }

  // ---- signed requests -----------------------------------------------------------------

  async post<T = unknown>(url: string, payload: unknown, options: PostOptions = {}): Promise<AcmeResponse<T>> {
    assertCaUrl(url, 'a URL from the CA');
    const key = options.key ?? this.accountKeyValue;
    const identity: SignerIdentity = options.identity === 'jwk' ? { jwk: true } : { kid: this.requireAccountUrl() };
    let badNonces = 0;
    for (let attempt = 0; ;) {
      const nonce = await this.freshNonce(options.signal);
      const jws = await signRequest({ key, identity, url, nonce, payload });
      let response: HttpResponse;
      try {
        response = await this.transport.request({
          method: 'POST',
          url,
          body: JSON.stringify(jws),
          signal: options.signal,
          headers: {
            'content-type': 'application/jose+json',
            accept: options.accept ?? 'application/json',
          },
          userHost: this.userHost,
        });
      } catch (error) {
        if (isRetryableNetworkError(error) && options.retryable && attempt < this.retry.transientRetries) {
          await this.backoff(attempt++, options.signal);
          continue;
        }
        throw error;
      }
      this.nonces.add(headerValue(response.headers, 'replay-nonce'));
      this.log.debug(`POST ${url} → ${response.status}`);
      if (response.status >= 400) {
        const error = this.responseError(response, 'POST', url);
        if (error instanceof BadNonceError && badNonces < this.retry.badNonceRetries) {
          badNonces++;
          continue;
        }
        if (options.retryable && this.isTransient(error, response) && attempt < this.retry.transientRetries) {
          const waitMs = this.retryDelayMs(attempt, response);
          if (waitMs !== undefined) {
            attempt++;
            await delay(waitMs, options.signal);
            continue;
          }
        }
        throw error;
      }
      return this.toAcmeResponse<T>(response, url, options.json ?? true);
    }
  }

  /** POST-as-GET (RFC 8555 §6.3): every read of an account-bound resource. */
  postAsGet<T = unknown>(url: string, options: Omit<PostOptions, 'retryable'> = {}): Promise<AcmeResponse<T>> {
    return this.post<T>(url, undefined, { ...options, retryable: true });
  }

  private toAcmeResponse<T>(response: HttpResponse, url: string, json: boolean): AcmeResponse<T> {
    const location = headerValue(response.headers, 'location');
    const resolvedLocation = location === undefined ? undefined : new URL(location, url).href;
    if (resolvedLocation !== undefined) assertCaUrl(resolvedLocation, 'a Location URL from the CA');
    const data = json && response.body.length > 0 ? this.parseJson(response, url) : undefined;
    return {
      status: response.status,
      headers: response.headers,
      body: response.body,
      data: data as T,
      location: resolvedLocation,
      retryAfterSeconds: parseRetryAfter(headerValue(response.headers, 'retry-after')),
      links: parseLinkHeaders(headerValues(response.headers, 'link'), url),
    };
  }

  private parseJson(response: HttpResponse, what: string): unknown {
    const text = response.body.toString('utf8');
    try {
      return JSON.parse(text);
    } catch (error) {
      const contentType = headerValue(response.headers, 'content-type');
      const body = contentType === undefined ? 'a body without content type' : `a body of type ${contentType}`;
      // Signed requests pass their URL as `what`: name it once.
      const target = what === response.url ? response.url : `${what} (${response.url})`;
      // JSON that stops mid-way is a cut-off answer (a proxy or a dropped connection), not a CA
      // that speaks something else: name that fault.
      const fault =
        text.trim() !== '' && endsBeforeJsonIsComplete(error, text)
          ? 'breaks off before the JSON is complete (truncated)'
          : 'is not JSON';
      throw new NetworkError(
        `the CA answered ${target} with HTTP ${response.status} and ${body} that ${fault}: ${snippet(text)}`,
      );
    }
  }

  private responseError(response: HttpResponse, method: string, url: string): Error {
    const retryAfterSeconds = parseRetryAfter(headerValue(response.headers, 'retry-after'));
    const text = response.body.toString('utf8');
    let problem: ProblemDocument | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = parsed as ProblemDocument;
    } catch {
      problem = undefined;
    }
    if (problem === undefined || (typeof problem.type !== 'string' && typeof problem.detail !== 'string')) {
      const contentType = headerValue(response.headers, 'content-type') ?? 'no content type';
      return new CaHttpError(
        `${method} ${url}: the CA answered HTTP ${response.status} (${contentType}) without a problem document: ${snippet(text)}`,
        response.status,
        retryAfterSeconds,
      );
    }
    return problemError({
      problem,
      status: response.status,
      method,
      url,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  }

  private isTransient(error: Error, response: HttpResponse): boolean {
    if (response.status === 429 || response.status >= 500) return true;
    return error instanceof AcmeProblemError && error.code === 'rateLimited';
  }

  /** How long to wait before retrying, or undefined when the CA asks for too long a pause. */
  private retryDelayMs(attempt: number, response: HttpResponse): number | undefined {
    const retryAfter = parseRetryAfter(headerValue(response.headers, 'retry-after'));
    if (retryAfter === undefined) return this.retry.backoffMs * 2 ** attempt;
    const ms = retryAfter * 1000;
    return ms <= this.retry.maxRetryAfterMs ? ms : undefined;
  }

  private async backoff(attempt: number, signal?: AbortSignal): Promise<void> {
    await delay(this.retry.backoffMs * 2 ** attempt, signal);
  }

  private requireAccountUrl(): string {
    if (this.accountUrlValue === undefined) {
      throw new UsageError('no ACME account is registered for this server', {
        advice: { kind: 'accountNotRegistered' },
      });
    }
    return this.accountUrlValue;
  }

  // ---- accounts ------------------------------------------------------------------------

  /** newAccount (RFC 8555 §7.3); finds the existing account when the key is already registered. */
  async newAccount(
    options: NewAccountOptions,
    signal?: AbortSignal,
  ): Promise<{ url: string; account: Account; created: boolean }> {
    const url = await this.resourceUrl('newAccount', signal);
    const payload: Record<string, unknown> = {};
    if (options.contact && options.contact.length > 0) payload.contact = [...options.contact];
    if (options.termsOfServiceAgreed) payload.termsOfServiceAgreed = true;
    if (options.onlyReturnExisting) payload.onlyReturnExisting = true;
    if (options.externalAccountBinding) {
      payload.externalAccountBinding = await signExternalAccountBinding({
        accountKey: this.accountKeyValue,
        binding: options.externalAccountBinding,
        url,
      });
    }
    const response = await this.post<Account>(url, payload, { identity: 'jwk', signal });
    if (response.location === undefined)
      throw new NetworkError(`POST ${url}: the CA returned no account URL (Location header)`);
    this.accountUrlValue = response.location;
    return {
      url: response.location,
      account: response.data ?? { status: 'valid' },
      created: response.status === 201,
    };
  }

  /** Looks up the account of the current key without creating one. */
  findAccount(signal?: AbortSignal): Promise<{ url: string; account: Account; created: boolean }> {
    return this.newAccount({ onlyReturnExisting: true }, signal);
  }

  async getAccount(signal?: AbortSignal): Promise<Account> {
    const url = this.requireAccountUrl();
    try {
      // POST-as-GET, as RFC 8555 errata and Pebble/Boulder expect...
      return (await this.postAsGet<Account>(url, { signal })).data;
    } catch (error) {
      // ...and the empty update of RFC 8555 §7.3.2 for CAs that only know that form.
      if (!(error instanceof AcmeProblemError) || error.code !== 'malformed') throw error;
      return (await this.post<Account>(url, {}, { signal, retryable: true })).data;
    }
  }

  async updateAccount(
    update: { contact?: readonly string[]; termsOfServiceAgreed?: boolean },
    signal?: AbortSignal,
  ): Promise<Account> {
    const payload: Record<string, unknown> = {};
    if (update.contact !== undefined) payload.contact = [...update.contact];
    if (update.termsOfServiceAgreed) payload.termsOfServiceAgreed = true;
    const response = await this.post<Account>(this.requireAccountUrl(), payload, { signal, retryable: true });
    return response.data;
  }

  async deactivateAccount(signal?: AbortSignal): Promise<Account> {
    const response = await this.post<Account>(
      this.requireAccountUrl(),
      { status: 'deactivated' },
      { signal, retryable: true },
    );
    return response.data;
  }

  /** Account key rollover (RFC 8555 §7.3.5). Afterwards the client signs with `newKey`. */
  async changeKey(newKey: KeyObject, signal?: AbortSignal): Promise<void> {
    const url = await this.resourceUrl('keyChange', signal);
    const inner = await signKeyChange({
      accountUrl: this.requireAccountUrl(),
      oldKey: this.accountKeyValue,
      newKey,
      url,
    });
    await this.post(url, inner, { signal });
    this.accountKeyValue = newKey;
  }

  // ---- orders and authorizations -------------------------------------------------------

  async newOrder(options: NewOrderOptions, signal?: AbortSignal): Promise<{ url: string; order: Order }> {
    const url = await this.resourceUrl('newOrder', signal);
    const payload: Record<string, unknown> = {
      identifiers: options.identifiers.map((i) => ({ type: i.type, value: i.value })),
    };
    if (options.notBefore !== undefined) payload.notBefore = toIsoString(options.notBefore);
    if (options.notAfter !== undefined) payload.notAfter = toIsoString(options.notAfter);
    if (options.profile !== undefined) payload.profile = options.profile;
    if (options.replaces !== undefined) payload.replaces = options.replaces;
    const response = await this.post<Order>(url, payload, { signal });
    if (response.location === undefined)
      throw new NetworkError(`POST ${url}: the CA returned no order URL (Location header)`);
    return { url: response.location, order: validateOrder(response.data, response.location) };
  }

  async getOrder(url: string, signal?: AbortSignal): Promise<AcmeResponse<Order>> {
    const response = await this.postAsGet<Order>(url, { signal });
    validateOrder(response.data, url);
    return response;
  }

  async getAuthorization(url: string, signal?: AbortSignal): Promise<AcmeResponse<Authorization>> {
    const response = await this.postAsGet<Authorization>(url, { signal });
    validateAuthorization(response.data, url);
    return response;
  }

  /** Pre-authorization (RFC 8555 §7.4.1), where the directory offers newAuthz. */
  async newAuthz(identifier: Identifier, signal?: AbortSignal): Promise<{ url: string; authorization: Authorization }> {
    const url = await this.resourceUrl('newAuthz', signal);
    const response = await this.post<Authorization>(url, { identifier }, { signal });
    if (response.location === undefined) throw new NetworkError(`POST ${url}: the CA returned no authorization URL`);
    return { url: response.location, authorization: validateAuthorization(response.data, response.location) };
  }

  async deactivateAuthorization(url: string, signal?: AbortSignal): Promise<Authorization> {
    const response = await this.post<Authorization>(url, { status: 'deactivated' }, { signal, retryable: true });
    return response.data;
  }

  /**
   * Tells the CA the challenge is ready (RFC 8555 §7.5.1). When a connection reset hid the
   * CA's answer, the retry can be refused because the first POST already moved the challenge
   * on (Pebble answers `malformed`); the challenge's own state then decides, not the refusal.
   */
  async respondToChallenge(url: string, signal?: AbortSignal): Promise<Challenge> {
    try {
      return (await this.post<Challenge>(url, {}, { signal, retryable: true })).data;
    } catch (error) {
      if (!(error instanceof AcmeProblemError) || error.status < 400 || error.status >= 500 || error.status === 429)
        throw error;
      const current = await this.postAsGet<Challenge>(url, { signal }).catch(() => undefined);
      if (current?.data !== undefined && typeof current.data === 'object' && current.data.status !== 'pending') {
        this.log.debug(`POST ${url}: refused, but the challenge is already ${String(current.data.status)}`);
        return current.data;
      }
      throw error;
    }
  }

  async finalize(finalizeUrl: string, csrDer: Uint8Array, signal?: AbortSignal): Promise<AcmeResponse<Order>> {
    const response = await this.post<Order>(
      finalizeUrl,
      { csr: Buffer.from(csrDer).toString('base64url') },
      { signal },
    );
    validateOrder(response.data, finalizeUrl);
    return response;
  }

  async downloadCertificate(url: string, signal?: AbortSignal): Promise<CertificateDownload> {
    const response = await this.postAsGet(url, { signal, accept: 'application/pem-certificate-chain', json: false });
    // The certificate is issued by now: an alternate link that cannot be followed is only an
    // alternate less, never a reason to fail (the caller decides whether to mention it).
    const download: CertificateDownload = {
      pem: response.body.toString('utf8'),
      alternates: [],
      refusedAlternates: [],
    };
    for (const link of response.links.filter((l) => l.rel.includes('alternate'))) {
      try {
        download.alternates.push(assertCaUrl(link.url, 'the alternate chain URL'));
      } catch (error) {
        download.refusedAlternates.push({ url: link.url, reason: (error as Error).message });
      }
    }
    return download;
  }

  // ---- revocation and renewal information ----------------------------------------------

  /**
   * revokeCert (RFC 8555 §7.6): signed by the account key, or with `certificateKey` by the
   * certificate's own key (jwk), for when the account is gone.
   */
  async revokeCertificate(
    certificateDer: Uint8Array,
    options: { reason?: number; certificateKey?: KeyObject; signal?: AbortSignal } = {},
  ): Promise<void> {
    const url = await this.resourceUrl('revokeCert', options.signal);
    const payload: Record<string, unknown> = { certificate: Buffer.from(certificateDer).toString('base64url') };
    if (options.reason !== undefined) payload.reason = options.reason;
    await this.post(url, payload, {
      signal: options.signal,
      json: false,
      ...(options.certificateKey ? { identity: 'jwk' as const, key: options.certificateKey } : {}),
    });
  }

  /** RFC 9773 renewalInfo: an unauthenticated GET. Undefined when the CA has no ARI. */
  async renewalInfo(
    certificateId: string,
    signal?: AbortSignal,
  ): Promise<{ info: RenewalInfo; retryAfterSeconds: number | undefined } | undefined> {
    const directory = await this.directory(signal);
    if (typeof directory.renewalInfo !== 'string') return undefined;
    const base = directory.renewalInfo.endsWith('/') ? directory.renewalInfo : `${directory.renewalInfo}/`;
    const url = `${base}${certificateId}`;
    const response = await this.sendUnsigned(url, signal);
    const data = this.parseJson(response, 'renewalInfo') as Partial<RenewalInfo>;
    const window = data?.suggestedWindow;
    if (
      !window ||
      typeof window.start !== 'string' ||
      typeof window.end !== 'string' ||
      Number.isNaN(Date.parse(window.start)) ||
      Number.isNaN(Date.parse(window.end))
    ) {
      throw new NetworkError(`GET ${url}: renewalInfo has no valid suggestedWindow`);
    }
    return {
      info: data as RenewalInfo,
      retryAfterSeconds: parseRetryAfter(headerValue(response.headers, 'retry-after')),
    };
  }
}

/**
 * The CA does not offer what the command needs: a directory resource (keyChange, revokeCert,
 * newAuthz), or a challenge type a configured plugin can solve. Its verdict, not a usage error:
 * the directory was already read, and no flag makes this CA offer it (exit 3).
 */
export class AcmeFeatureError extends AcmecliError {
  constructor(message: string) {
    super(message, ExitCode.caRejected);
  }
}

/**
 * `url` from the CA (directory, Location, Link, an object's URLs) checked by the URL rules of the
 * transport. A URL acmecli will not use is a broken answer, so a NetworkError (exit 5): the
 * UsageError of the rules is for URLs the user gives, and exit 2 means nothing was sent.
 */
export function assertCaUrl(url: unknown, what: string): string {
  try {
    return assertAcceptableUrl(String(url), what).href;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new NetworkError(error.message, { cause: error });
  }
}

/** An HTTP error from the CA that carries no problem document (an HTML 502 page...). */
export class CaHttpError extends NetworkError {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
  }
}

/** Transport failures worth another attempt: not those the same request would meet again. */
function isRetryableNetworkError(error: unknown): boolean {
  return error instanceof NetworkError && !(error instanceof PermanentNetworkError);
}

/** Whether JSON.parse (V8) failed because `text` ends inside a value rather than on bad syntax. */
function endsBeforeJsonIsComplete(error: unknown, text: string): boolean {
  const message = error instanceof Error ? error.message : '';
  if (/Unexpected end of JSON input|Unterminated string/i.test(message)) return true;
  // "Expected ',' or '}' after property value in JSON at position 6": at the very end, it ran out.
  const position = /at position (\d+)/.exec(message);
  return position !== null && Number(position[1]) >= text.length;
}

function snippet(text: string): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean === '') return '(empty body)';
  return clean.length > 120 ? `${JSON.stringify(clean.slice(0, 120))}…` : JSON.stringify(clean);
}

function validateOrder(order: Order | undefined, url: string): Order {
  if (
    !order ||
    typeof order.status !== 'string' ||
    !Array.isArray(order.identifiers) ||
    !Array.isArray(order.authorizations) ||
    typeof order.finalize !== 'string'
  ) {
    throw new NetworkError(`the CA returned a malformed order from ${url}`);
  }
  // Every URL is checked on arrival, so a bad one stops the run before anything is presented.
  for (const authorization of order.authorizations) assertCaUrl(authorization, `an authorization URL of order ${url}`);
  assertCaUrl(order.finalize, `the finalize URL of order ${url}`);
  if (order.certificate !== undefined) assertCaUrl(order.certificate, `the certificate URL of order ${url}`);
  return order;
}

function validateAuthorization(authorization: Authorization | undefined, url: string): Authorization {
  if (
    !authorization ||
    typeof authorization.status !== 'string' ||
    !authorization.identifier ||
    typeof authorization.identifier.value !== 'string' ||
    !Array.isArray(authorization.challenges)
  ) {
    throw new NetworkError(`the CA returned a malformed authorization from ${url}`);
  }
  return authorization;
}
