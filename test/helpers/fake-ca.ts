/**
 * A small scriptable ACME server for what Pebble cannot do (badNonce bursts, 503/429 with
 * Retry-After, HTML error pages, huge or stalled bodies, connection resets, a broken chain). It
 * speaks just enough RFC 8555 over plain http on 127.0.0.1 (the transport allows loopback http):
 * directory (optionally with newAuthz), newNonce, newAccount, newOrder, newAuthz, authorizations,
 * challenges, finalize and certificate download.
 *
 * It checks what a real CA checks, so a client bug shows up as a failed test rather than passing
 * by accident: every nonce is single-use (a replayed body gets badNonce), every JWS signature is
 * verified against the account key, and the JWS `url` must be the request URL. Faults are injected
 * by an interceptor that sees each request (JWS already decoded) before the normal handling, and
 * a hostile CA's lies by rewriting what it sends: authorization and order objects, Location
 * headers, the certificate's names (`issueWithNames`) and its alternate-chain links.
 */
import { randomBytes, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, flattenedVerify, importJWK, type JWK } from 'jose';
import { generateKey } from '../../src/crypto/keys.js';
import { encodePem } from '../../src/crypto/pem.js';
import type * as X509 from '@peculiar/x509';
import { signingKeysFor, x509 } from './x509.js';

export type FakeResource =
  | 'directory'
  | 'newNonce'
  | 'newAccount'
  | 'newOrder'
  | 'newAuthz'
  | 'account'
  | 'order'
  | 'authz'
  | 'challenge'
  | 'finalize'
  | 'cert'
  | 'unknown';

export interface FakeJws {
  protected: { alg?: string; nonce?: string; url?: string; kid?: string; jwk?: JWK };
  /** Decoded JSON payload; undefined for POST-as-GET (empty payload). */
  payload: unknown;
  signature: string;
}

export interface FakeRequest {
  /** 0-based position among every request this server received. */
  seq: number;
  method: string;
  /** Path and query as received. */
  path: string;
  url: string;
  resource: FakeResource;
  body: string;
  jws?: FakeJws;
  /** POST only: the nonce was one this server issued and had not seen used. */
  nonceFresh?: boolean;
  /** POST only: the signature verified with the key it claims (jwk) or the account's key (kid). */
  signatureValid?: boolean;
  /** Milliseconds since the server started (performance.now based). */
  atMs: number;
}

/** Answers the request itself (returns true) or lets the fake handle it (false). */
export type Interceptor = (request: FakeRequest, res: ServerResponse) => boolean | Promise<boolean>;

export interface FakeCaOptions {
  /** Offer newAuthz (RFC 8555 §7.4.1 pre-authorization) in the directory. */
  newAuthz?: boolean;
  /** Replace the directory answer: raw text with a content type, or an object built from the defaults. */
  directory?: { body: string; contentType: string } | ((defaults: Record<string, unknown>) => Record<string, unknown>);
  /** 'pending-forever': answered challenges stay processing and authorizations pending. */
  authorizationOutcome?: 'valid' | 'pending-forever';
  /** No Replay-Nonce on any response except newNonce (RFC 8555 says every POST response carries one). */
  omitReplayNonce?: boolean;
  /**
   * Rewrites the PEM chain the certificate URL serves. `issueFor` signs a leaf with the CSR's
   * names for another public key (a leaf that does not match the certificate key).
   */
  certificateChain?: (issued: {
    leafPem: string;
    caPem: string;
    issueFor: (publicKey: webcrypto.CryptoKey) => Promise<string>;
    /** Signs a leaf for the CSR's key with these subjectAltNames instead of the CSR's. */
    issueWithNames: (names: X509.JsonGeneralNames) => Promise<string>;
  }) => string | Promise<string>;
  /** Challenge types each authorization offers (default http-01 only). */
  challengeTypes?: readonly string[];
  /** Rewrites each authorization object as sent (newAuthz answers and authorization reads). */
  rewriteAuthorization?: (
    authorization: Record<string, unknown>,
    state: { id: number; status: string },
  ) => Record<string, unknown>;
  /** Rewrites each order object as sent (newOrder, order reads, finalize). */
  rewriteOrder?: (order: Record<string, unknown>) => Record<string, unknown>;
  /** Rewrites the Location header of newAccount, newOrder and newAuthz answers. */
  rewriteLocation?: (resource: FakeResource, location: string) => string;
  /** Link header values sent with the certificate chain (e.g. rel="alternate" chains). */
  certificateLinks?: readonly string[];
  interceptor?: Interceptor;
}

export interface FakeCa {
  readonly origin: string;
  readonly directoryUrl: string;
  readonly requests: FakeRequest[];
  /** The fake's own issuing CA certificate. */
  readonly caPem: string;
  options: FakeCaOptions;
  /** Requests to one resource (optionally one method). */
  requestsTo(resource: FakeResource, method?: string): FakeRequest[];
  /** Issues a fresh nonce as if sent in a Replay-Nonce header (for hand-written answers). */
  issueNonce(): string;
  stop(): Promise<void>;
}

interface AuthzState {
  id: number;
  account: string;
  identifier: { type: string; value: string };
  wildcard: boolean;
  status: 'pending' | 'valid' | 'invalid' | 'deactivated';
  challengeStatus: 'pending' | 'processing' | 'valid';
  token: string;
}

interface OrderState {
  id: number;
  account: string;
  identifiers: Array<{ type: string; value: string }>;
  authzIds: number[];
  certId?: number;
  replaces?: string;
  profile?: string;
}

const PROBLEM_PREFIX = 'urn:ietf:params:acme:error:';

/** Writes an RFC 7807 problem document; a fresh Replay-Nonce unless `nonce` is null. */
export function sendProblem(
  res: ServerResponse,
  status: number,
  code: string,
  detail: string,
  options: { nonce?: string | null; headers?: Record<string, string> } = {},
): void {
  const headers: Record<string, string> = { 'content-type': 'application/problem+json', ...options.headers };
  if (options.nonce) headers['replay-nonce'] = options.nonce;
  res.writeHead(status, headers).end(JSON.stringify({ type: `${PROBLEM_PREFIX}${code}`, detail, status }));
}

function resourceOf(pathname: string): FakeResource {
  if (pathname === '/directory') return 'directory';
  if (pathname === '/new-nonce') return 'newNonce';
  if (pathname === '/new-account') return 'newAccount';
  if (pathname === '/new-order') return 'newOrder';
  if (pathname === '/new-authz') return 'newAuthz';
  if (pathname.startsWith('/acct/')) return 'account';
  if (pathname.startsWith('/order/')) return 'order';
  if (pathname.startsWith('/authz/')) return 'authz';
  if (pathname.startsWith('/chall/')) return 'challenge';
  if (pathname.startsWith('/finalize/')) return 'finalize';
  if (pathname.startsWith('/cert/')) return 'cert';
  return 'unknown';
}

function decodeJws(body: string): FakeJws | undefined {
  try {
    const parsed = JSON.parse(body) as { protected?: unknown; payload?: unknown; signature?: unknown };
    if (
      typeof parsed.protected !== 'string' ||
      typeof parsed.payload !== 'string' ||
      typeof parsed.signature !== 'string'
    ) {
      return undefined;
    }
    const header = JSON.parse(Buffer.from(parsed.protected, 'base64url').toString('utf8')) as FakeJws['protected'];
    const payloadText = Buffer.from(parsed.payload, 'base64url').toString('utf8');
    return {
      protected: header,
      payload: payloadText === '' ? undefined : JSON.parse(payloadText),
      signature: parsed.signature,
    };
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // A test client never sends more; anything bigger is a bug worth a loud failure.
    if (size > 1024 * 1024) throw new Error('request body over 1 MiB');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function makeIssuer(): Promise<{ key: KeyObject; cert: X509.X509Certificate; pem: string }> {
  const key = await generateKey('ec256');
  const { keys, signingAlgorithm } = signingKeysFor(key);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=acmecli fake CA ${randomBytes(3).toString('hex')}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 7 * 86_400_000),
    keys,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { key, cert, pem: encodePem('CERTIFICATE', new Uint8Array(cert.rawData)) };
}

export async function startFakeCa(initialOptions: FakeCaOptions = {}): Promise<FakeCa> {
  const issuer = await makeIssuer();
  const issuerSigning = signingKeysFor(issuer.key);
  const started = performance.now();
  const requests: FakeRequest[] = [];
  const nonces = new Set<string>();
  const accounts = new Map<string, JWK>();
  const authzs = new Map<number, AuthzState>();
  const orders = new Map<number, OrderState>();
  const certs = new Map<number, string>();
  let nextId = 1;
  let origin = '';

  const issueNonce = (): string => {
    const nonce = randomBytes(16).toString('base64url');
    nonces.add(nonce);
    return nonce;
  };

  const fake: FakeCa = {
    get origin() {
      return origin;
    },
    get directoryUrl() {
      return `${origin}/directory`;
    },
    requests,
    caPem: issuer.pem,
    options: initialOptions,
    requestsTo: (resource, method) =>
      requests.filter((r) => r.resource === resource && (method === undefined || r.method === method)),
    issueNonce,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const nonceHeader = (): Record<string, string> =>
    fake.options.omitReplayNonce ? {} : { 'replay-nonce': issueNonce() };
  const problem = (res: ServerResponse, status: number, code: string, detail: string): void =>
    sendProblem(res, status, code, detail, { nonce: fake.options.omitReplayNonce ? null : issueNonce() });
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res
      .writeHead(status, { 'content-type': 'application/json', ...nonceHeader(), ...headers })
      .end(JSON.stringify(body));
  };

  const challengeUrl = (id: number, type: string): string =>
    type === 'http-01' ? `${origin}/chall/${id}` : `${origin}/chall/${id}/${type}`;
  const authzJson = (a: AuthzState): Record<string, unknown> => {
    const body: Record<string, unknown> = {
      identifier: a.identifier,
      status: a.status,
      expires: new Date(Date.now() + 3_600_000).toISOString(),
      ...(a.wildcard ? { wildcard: true } : {}),
      challenges: (fake.options.challengeTypes ?? ['http-01']).map((type) => ({
        type,
        url: challengeUrl(a.id, type),
        status: a.challengeStatus,
        token: a.token,
      })),
    };
    return fake.options.rewriteAuthorization
      ? fake.options.rewriteAuthorization(body, { id: a.id, status: a.status })
      : body;
  };
  const located = (resource: FakeResource, location: string): string =>
    fake.options.rewriteLocation ? fake.options.rewriteLocation(resource, location) : location;
  const orderStatus = (o: OrderState): string => {
    if (o.certId !== undefined) return 'valid';
    const states = o.authzIds.map((id) => authzs.get(id)?.status);
    if (states.some((s) => s === 'invalid' || s === 'deactivated')) return 'invalid';
    return states.every((s) => s === 'valid') ? 'ready' : 'pending';
  };
  const orderJson = (o: OrderState): Record<string, unknown> => {
    const body = plainOrderJson(o);
    return fake.options.rewriteOrder ? fake.options.rewriteOrder(body) : body;
  };
  const plainOrderJson = (o: OrderState): Record<string, unknown> => ({
    status: orderStatus(o),
    expires: new Date(Date.now() + 3_600_000).toISOString(),
    identifiers: o.identifiers,
    authorizations: o.authzIds.map((id) => `${origin}/authz/${id}`),
    finalize: `${origin}/finalize/${o.id}`,
    ...(o.certId !== undefined ? { certificate: `${origin}/cert/${o.certId}` } : {}),
    ...(o.replaces !== undefined ? { replaces: o.replaces } : {}),
    ...(o.profile !== undefined ? { profile: o.profile } : {}),
  });
  const newAuthz = (account: string, identifier: { type: string; value: string }): AuthzState => {
    const wildcard = identifier.value.startsWith('*.');
    const authz: AuthzState = {
      id: nextId++,
      account,
      identifier: { type: identifier.type, value: wildcard ? identifier.value.slice(2) : identifier.value },
      wildcard,
      status: 'pending',
      challengeStatus: 'pending',
      token: randomBytes(32).toString('base64url'),
    };
    authzs.set(authz.id, authz);
    return authz;
  };

  const signLeaf = async (publicKey: webcrypto.CryptoKey, names: X509.JsonGeneralNames): Promise<string> => {
    const now = Date.now();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: `01${randomBytes(15).toString('hex')}`,
      subject: 'CN=fake leaf',
      issuer: issuer.cert.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 90 * 86_400_000),
      publicKey,
      signingKey: issuerSigning.keys.privateKey,
      signingAlgorithm: issuerSigning.signingAlgorithm,
      extensions: [
        new x509.SubjectAlternativeNameExtension(names),
        await x509.AuthorityKeyIdentifierExtension.create(issuerSigning.keys.publicKey),
        new x509.BasicConstraintsExtension(false),
      ],
    });
    return encodePem('CERTIFICATE', new Uint8Array(leaf.rawData));
  };

  const issueChain = async (csrDer: Buffer): Promise<string> => {
    const csr = new x509.Pkcs10CertificateRequest(csrDer);
    const names = csr
      .getExtensions('2.5.29.17')
      .flatMap((extension) => new x509.SubjectAlternativeNameExtension(extension.rawData).names.toJSON());
    const csrKey = await csr.publicKey.export();
    const leafPem = await signLeaf(csrKey, names);
    if (!fake.options.certificateChain) return `${leafPem}${issuer.pem}`;
    return fake.options.certificateChain({
      leafPem,
      caPem: issuer.pem,
      issueFor: (publicKey) => signLeaf(publicKey, names),
      issueWithNames: (otherNames) => signLeaf(csrKey, otherNames),
    });
  };

  /** Signature and nonce checks, as a real CA makes them. */
  const checkJws = async (request: FakeRequest): Promise<void> => {
    const jws = request.jws;
    if (!jws) return;
    const nonce = jws.protected.nonce;
    request.nonceFresh = nonce !== undefined && nonces.delete(nonce);
    let jwk: JWK | undefined = jws.protected.jwk;
    if (jwk === undefined && jws.protected.kid !== undefined) jwk = accounts.get(jws.protected.kid);
    try {
      if (!jwk || !jws.protected.alg) throw new Error('no key');
      const key = await importJWK(jwk, jws.protected.alg);
      await flattenedVerify(JSON.parse(request.body) as Parameters<typeof flattenedVerify>[0], key);
      request.signatureValid = true;
    } catch {
      request.signatureValid = false;
    }
  };

  const handle = async (request: FakeRequest, res: ServerResponse): Promise<void> => {
    const { resource, method } = request;
    if (resource === 'directory') {
      const defaults: Record<string, unknown> = {
        newNonce: `${origin}/new-nonce`,
        newAccount: `${origin}/new-account`,
        newOrder: `${origin}/new-order`,
        revokeCert: `${origin}/revoke-cert`,
        keyChange: `${origin}/key-change`,
        ...(fake.options.newAuthz ? { newAuthz: `${origin}/new-authz` } : {}),
        meta: { termsOfService: `${origin}/terms` },
      };
      const directory = fake.options.directory;
      if (directory !== undefined && typeof directory !== 'function') {
        res.writeHead(200, { 'content-type': directory.contentType }).end(directory.body);
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(directory ? directory(defaults) : defaults));
      return;
    }
    if (resource === 'newNonce') {
      res.writeHead(method === 'HEAD' ? 200 : 204, { 'replay-nonce': issueNonce(), 'cache-control': 'no-store' }).end();
      return;
    }
    if (method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const jws = request.jws;
    if (!jws) return problem(res, 400, 'malformed', 'the body is not a flattened JWS');
    if (!request.nonceFresh)
      return problem(res, 400, 'badNonce', `nonce ${String(jws.protected.nonce)} is unknown or used`);
    if (!request.signatureValid) return problem(res, 400, 'malformed', 'JWS signature does not verify');
    if (jws.protected.url !== request.url)
      return problem(res, 400, 'unauthorized', `JWS url ${String(jws.protected.url)} is not ${request.url}`);
    const payload = (jws.payload ?? {}) as Record<string, unknown>;

    if (resource === 'newAccount') {
      if (!jws.protected.jwk) return problem(res, 400, 'malformed', 'newAccount needs jwk');
      const url = `${origin}/acct/${await calculateJwkThumbprint(jws.protected.jwk)}`;
      const existed = accounts.has(url);
      if (!existed && payload.onlyReturnExisting) return problem(res, 400, 'accountDoesNotExist', 'no such account');
      accounts.set(url, jws.protected.jwk);
      return json(
        res,
        existed ? 200 : 201,
        { status: 'valid', orders: `${url}/orders` },
        { location: located('newAccount', url) },
      );
    }
    const account = jws.protected.kid;
    if (account === undefined || !accounts.has(account)) return problem(res, 400, 'accountDoesNotExist', 'unknown kid');

    if (resource === 'newOrder') {
      const identifiers = (payload.identifiers ?? []) as Array<{ type: string; value: string }>;
      const authzIds = identifiers.map((identifier) => {
        const wildcard = identifier.value.startsWith('*.');
        const base = wildcard ? identifier.value.slice(2) : identifier.value;
        const reusable = [...authzs.values()].find(
          (a) =>
            a.account === account && a.status === 'valid' && a.identifier.value === base && a.wildcard === wildcard,
        );
        return (reusable ?? newAuthz(account, identifier)).id;
      });
      const order: OrderState = { id: nextId++, account, identifiers, authzIds };
      if (typeof payload.replaces === 'string') order.replaces = payload.replaces;
      if (typeof payload.profile === 'string') order.profile = payload.profile;
      orders.set(order.id, order);
      return json(res, 201, orderJson(order), { location: located('newOrder', `${origin}/order/${order.id}`) });
    }
    if (resource === 'newAuthz') {
      const identifier = payload.identifier as { type: string; value: string } | undefined;
      if (!identifier) return problem(res, 400, 'malformed', 'newAuthz needs an identifier');
      const authz = newAuthz(account, identifier);
      return json(res, 201, authzJson(authz), { location: located('newAuthz', `${origin}/authz/${authz.id}`) });
    }
    const id = Number(request.path.split('/')[2]);
    if (resource === 'authz') {
      const authz = authzs.get(id);
      if (!authz) return problem(res, 404, 'malformed', 'no such authorization');
      if (payload.status === 'deactivated') {
        authz.status = 'deactivated';
      }
      return json(res, 200, authzJson(authz));
    }
    if (resource === 'challenge') {
      const authz = authzs.get(id);
      if (!authz) return problem(res, 404, 'malformed', 'no such challenge');
      if (authz.status === 'pending') {
        if ((fake.options.authorizationOutcome ?? 'valid') === 'valid') {
          authz.status = 'valid';
          authz.challengeStatus = 'valid';
        } else {
          authz.challengeStatus = 'processing';
        }
      }
      const challenges = authzJson(authz).challenges as Array<{ url?: unknown }>;
      const challenge = challenges.find((c) => c.url === request.url) ?? challenges[0];
      return json(res, 200, challenge, { link: `<${origin}/authz/${authz.id}>;rel="up"` });
    }
    if (resource === 'order') {
      const order = orders.get(id);
      if (!order) return problem(res, 404, 'malformed', 'no such order');
      return json(res, 200, orderJson(order));
    }
    if (resource === 'finalize') {
      const order = orders.get(id);
      if (!order) return problem(res, 404, 'malformed', 'no such order');
      if (orderStatus(order) !== 'ready') return problem(res, 403, 'orderNotReady', `order is ${orderStatus(order)}`);
      const chain = await issueChain(Buffer.from(String(payload.csr), 'base64url'));
      const certId = nextId++;
      certs.set(certId, chain);
      order.certId = certId;
      return json(res, 200, orderJson(order), { location: `${origin}/order/${order.id}` });
    }
    if (resource === 'cert') {
      const chain = certs.get(id);
      if (chain === undefined) return problem(res, 404, 'malformed', 'no such certificate');
      const links = fake.options.certificateLinks;
      res
        .writeHead(200, {
          'content-type': 'application/pem-certificate-chain',
          ...nonceHeader(),
          ...(links ? { link: [...links] } : {}),
        })
        .end(chain);
      return;
    }
    return problem(res, 404, 'malformed', `nothing at ${request.path}`);
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const pathname = new URL(path, origin).pathname;
      const body = await readBody(req);
      const request: FakeRequest = {
        seq: requests.length,
        method,
        path,
        url: `${origin}${path}`,
        resource: resourceOf(pathname),
        body,
        atMs: performance.now() - started,
      };
      if (method === 'POST') {
        const jws = decodeJws(body);
        if (jws) request.jws = jws;
        await checkJws(request);
      }
      requests.push(request);
      if (fake.options.interceptor && (await fake.options.interceptor(request, res))) return;
      await handle(request, res);
    })().catch((error: unknown) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`fake CA bug: ${String(error)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** A public key that is not the one in any CSR: for "the leaf does not match the key". */
export async function unrelatedPublicKey(): Promise<webcrypto.CryptoKey> {
  const key = await generateKey('ec256');
  return createPublicKey(key).toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
}
