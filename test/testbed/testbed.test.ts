/**
 * Proves the integration test bed itself: Pebble (+ challtestsrv) and BIND start, answer, issue
 * through their resolvers, and stop without leaving processes behind. A deliberately tiny ACME
 * client lives here (not the project's own) so a bug in src/ cannot hide a broken test bed.
 */
import { createHash, createHmac, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBind, type BindHandle } from '../helpers/bind.js';
import {
  findPebble,
  PEBBLE_SID_CACHE_DIR,
  requestText,
  requirePebbleFeature,
  sidPebbleState,
  startPebble,
  type PebbleHandle,
} from '../helpers/pebble.js';
import { freeDnsPort, freePort } from '../helpers/ports.js';
import {
  makeTempDir,
  processIsAlive,
  removeTempDir,
  runCommand,
  startDaemon,
  waitUntil,
} from '../helpers/processes.js';

const timings: string[] = [];

async function timed<T>(label: string, start: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await start();
  timings.push(`${label}: ${Math.round(performance.now() - started)} ms`);
  return result;
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function resolverFor(address: string): Resolver {
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([address]);
  return resolver;
}

// ---------------------------------------------------------------------------------------------
// Minimal ACME (RFC 8555) client: ES256 account, one identifier, one challenge type.

const b64u = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

interface AcmeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: Record<string, unknown>;
}

class TinyAcme {
  private readonly key: KeyObject;
  readonly jwk: Record<string, string>;
  private nonce: string | undefined;
  kid: string | undefined;
  directory: Record<string, unknown> = {};

  constructor(private readonly pebble: PebbleHandle) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    this.jwk = { crv: String(jwk.crv), kty: String(jwk.kty), x: String(jwk.x), y: String(jwk.y) };
  }

  thumbprint(): string {
    const { crv, kty, x, y } = this.jwk;
    return b64u(createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest());
  }

  url(name: string): string {
    return String(this.directory[name]);
  }

  async init(): Promise<void> {
    const res = await requestText(this.pebble.directoryUrl, { ca: this.pebble.caBundlePem });
    this.directory = JSON.parse(res.body) as Record<string, unknown>;
  }

  private async freshNonce(): Promise<string> {
    const res = await requestText(this.url('newNonce'), { ca: this.pebble.caBundlePem, method: 'HEAD' });
    return String(res.headers['replay-nonce']);
  }

  async post(
    url: string,
    payload: unknown,
    extra: { jwk?: boolean; eab?: { kid: string; key: string } } = {},
  ): Promise<AcmeResponse> {
    for (let attempt = 0; ; attempt++) {
      const nonce = this.nonce ?? (await this.freshNonce());
      this.nonce = undefined;
      const header = {
        alg: 'ES256',
        nonce,
        url,
        ...(extra.jwk || !this.kid ? { jwk: this.jwk } : { kid: this.kid }),
      };
      let body = payload;
      if (extra.eab) {
        const protectedEab = b64u(JSON.stringify({ alg: 'HS256', kid: extra.eab.kid, url }));
        const payloadEab = b64u(JSON.stringify(this.jwk));
        const signature = createHmac('sha256', Buffer.from(extra.eab.key, 'base64url'))
          .update(`${protectedEab}.${payloadEab}`)
          .digest();
        body = {
          ...(payload as object),
          externalAccountBinding: { protected: protectedEab, payload: payloadEab, signature: b64u(signature) },
        };
      }
      const protectedHeader = b64u(JSON.stringify(header));
      const encodedPayload = body === '' ? '' : b64u(JSON.stringify(body));
      const signature = sign('sha256', Buffer.from(`${protectedHeader}.${encodedPayload}`), {
        key: this.key,
        dsaEncoding: 'ieee-p1363',
      });
      const res = await requestText(url, {
        ca: this.pebble.caBundlePem,
        method: 'POST',
        headers: { 'content-type': 'application/jose+json' },
        body: JSON.stringify({ protected: protectedHeader, payload: encodedPayload, signature: b64u(signature) }),
      });
      const replay = res.headers['replay-nonce'];
      if (typeof replay === 'string') this.nonce = replay;
      const json = res.body.startsWith('{') ? (JSON.parse(res.body) as Record<string, unknown>) : {};
      if (res.status === 400 && json.type === 'urn:ietf:params:acme:error:badNonce' && attempt < 5) continue;
      return { ...res, json };
    }
  }

  async register(eab?: { kid: string; key: string }): Promise<AcmeResponse> {
    const res = await this.post(
      this.url('newAccount'),
      { termsOfServiceAgreed: true },
      { jwk: true, ...(eab ? { eab } : {}) },
    );
    if (res.status === 201 || res.status === 200) this.kid = String(res.headers.location);
    return res;
  }

  async pollUntil(
    url: string,
    done: (json: Record<string, unknown>) => boolean,
    what: string,
  ): Promise<Record<string, unknown>> {
    return waitUntil(
      async () => {
        const res = await this.post(url, '');
        if (res.json.status === 'invalid') throw new Error(`${what} is invalid: ${res.body}`);
        return done(res.json) ? res.json : undefined;
      },
      { timeoutMs: 20_000, what, daemons: [this.pebble.daemon] },
    );
  }
}

interface Issued {
  chainPem: string;
  leaf: X509Certificate;
  order: Record<string, unknown>;
  acme: TinyAcme;
}

/** Issues a certificate for `name`, publishing the challenge with `publish`. */
async function issue(
  pebble: PebbleHandle,
  name: string,
  type: 'dns-01' | 'http-01',
  publish: (token: string, keyAuthorization: string) => Promise<void>,
  options: { profile?: string } = {},
): Promise<Issued> {
  const acme = new TinyAcme(pebble);
  await acme.init();
  const account = await acme.register();
  expect(account.status, account.body).toBe(201);
  const created = await acme.post(acme.url('newOrder'), {
    identifiers: [{ type: 'dns', value: name }],
    ...(options.profile ? { profile: options.profile } : {}),
  });
  expect(created.status, created.body).toBe(201);
  const orderUrl = String(created.headers.location);
  for (const authzUrl of created.json.authorizations as string[]) {
    const authz = (await acme.post(authzUrl, '')).json;
    if (authz.status === 'valid') continue;
    // Pebble 2.10 also offers dns-account-01 / dns-persist-01 (no token): pick by type only.
    const challenge = (authz.challenges as Array<Record<string, string>>).find((c) => c.type === type);
    if (!challenge?.token) throw new Error(`no ${type} challenge in ${JSON.stringify(authz)}`);
    await publish(challenge.token, `${challenge.token}.${acme.thumbprint()}`);
    const answered = await acme.post(challenge.url!, {});
    expect(answered.status, answered.body).toBe(200);
    await acme.pollUntil(authzUrl, (json) => json.status === 'valid', `authorization of ${name}`);
  }
  const dir = await makeTempDir('tiny-acme');
  try {
    await runCommand('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-noenc',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'csr.der'),
      '-outform',
      'DER',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=DNS:${name}`,
    ]);
    const csr = await readFile(join(dir, 'csr.der'));
    const order = (await acme.post(orderUrl, '')).json;
    const finalized = await acme.post(String(order.finalize), { csr: b64u(csr) });
    expect(finalized.status, finalized.body).toBe(200);
    const valid = await acme.pollUntil(orderUrl, (json) => json.status === 'valid', `order for ${name}`);
    const download = await acme.post(String(valid.certificate), '');
    expect(download.status, download.body).toBe(200);
    const leafPem = download.body.slice(0, download.body.indexOf('-----END CERTIFICATE-----') + 25);
    return { chainPem: download.body, leaf: new X509Certificate(leafPem), order: valid, acme };
  } finally {
    await removeTempDir(dir);
  }
}

/** ARI CertID (draft-ietf-acme-ari): base64url(AKI keyIdentifier) "." base64url(serial DER bytes). */
async function ariCertId(leafPem: string): Promise<string> {
  const { stdout } = await runCommand('openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier'], {
    input: leafPem,
  });
  const hex = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/i.exec(stdout)?.[1];
  if (!hex) throw new Error(`no authorityKeyIdentifier in ${stdout}`);
  const aki = Buffer.from(hex.replaceAll(':', ''), 'hex');
  let serial = Buffer.from(new X509Certificate(leafPem).serialNumber, 'hex');
  if ((serial[0] ?? 0) & 0x80) serial = Buffer.concat([Buffer.of(0), serial]);
  return `${b64u(aki)}.${b64u(serial)}`;
}

/** A one-file HTTP server answering http-01 key authorizations on Pebble's httpPort. */
async function serveHttp01(port: number, tokens: Map<string, string>): Promise<Server> {
  const server = createServer((req, res) => {
    const token = req.url?.replace('/.well-known/acme-challenge/', '') ?? '';
    const body = tokens.get(token);
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/plain' }).end(body ?? 'no such token');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

afterAll(() => {
  if (timings.length > 0) console.info(`test bed timings:\n  ${timings.join('\n  ')}`);
});

// ---------------------------------------------------------------------------------------------

describe('processes helper', () => {
  it('fails a wait fast, naming what it waited for and quoting the log, when the daemon dies', async () => {
    const daemon = await startDaemon({ name: 'dies', command: 'sh', args: ['-c', 'echo about to fail; exit 3'] });
    try {
      const error = await waitUntil(() => false, {
        timeoutMs: 10_000,
        what: 'the impossible',
        daemons: [daemon],
      }).catch((e: unknown) => e);
      expect(String(error)).toMatch(/dies exited \(exit code 3\) while waiting for the impossible/);
      expect(String(error)).toContain('about to fail');
    } finally {
      await daemon.stop();
      expect(existsSync(daemon.logPath)).toBe(false);
    }
  });

  it('times out with the last failure when the check never succeeds', async () => {
    // Fake timers: it gives up at its own deadline, on the clock its polls are scheduled on.
    vi.useFakeTimers();
    try {
      let attempts = 0;
      let settled = false;
      const waiting = waitUntil(
        () => {
          attempts++;
          throw new Error('still closed');
        },
        { timeoutMs: 200, what: 'a door' },
      )
        .catch((e: unknown) => e)
        .finally(() => (settled = true));
      await vi.advanceTimersByTimeAsync(199);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toBe(true);
      expect(String(await waiting)).toBe(
        'Error: timed out after 200 ms waiting for a door; last attempt: still closed',
      );
      // Polls at 0, 10, 30, 70, 150 and 200 ms: the interval doubles from 10 ms up to 100 ms.
      expect(attempts).toBe(6);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stop() kills the whole process group, children included', async () => {
    const dir = await makeTempDir('group');
    try {
      const pidFile = join(dir, 'child.pid');
      const daemon = await startDaemon({
        name: 'parent',
        command: 'sh',
        args: ['-c', `sleep 300 & echo $! > ${pidFile}; wait`],
        logDir: dir,
      });
      const childPid = await waitUntil(
        async () => (existsSync(pidFile) ? Number(await readFile(pidFile, 'utf8')) : 0),
        {
          timeoutMs: 5_000,
          what: 'the child to write its PID',
          daemons: [daemon],
        },
      );
      expect(processIsAlive(childPid)).toBe(true);
      await daemon.stop();
      expect(processIsAlive(daemon.pid)).toBe(false);
      expect(processIsAlive(childPid)).toBe(false);
    } finally {
      await removeTempDir(dir);
    }
  });

  it('freePort and freeDnsPort hand out bindable ports', async () => {
    const [tcp, dns] = await Promise.all([freePort(), freeDnsPort()]);
    expect(tcp).toBeGreaterThan(1023);
    expect(dns).toBeGreaterThan(1023);
    expect(await connectRefused(tcp)).toBe(true);
  });
});

describe('Pebble + challtestsrv (default binary)', () => {
  let pebble: PebbleHandle;
  beforeAll(async () => {
    pebble = await timed(`startPebble (${findPebble().packageVersion})`, () =>
      startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } }),
    );
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('serves an RFC 8555 directory over HTTPS trusted only through the generated CA', async () => {
    for (const key of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange', 'meta']) {
      expect(pebble.directory).toHaveProperty(key);
    }
    expect((pebble.directory.meta as Record<string, unknown>).externalAccountRequired).toBe(false);
    expect(pebble.directoryUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dir$/);
    expect(await readFile(pebble.caBundlePath, 'utf8')).toBe(pebble.caBundlePem);
    // Without the throw-away CA the listener must not be trusted: verification stays on.
    const untrusted = await requestText(pebble.directoryUrl).catch((e: unknown) => e);
    expect(String((untrusted as NodeJS.ErrnoException).code ?? untrusted)).toMatch(/SELF_SIGNED|UNABLE_TO|CERT/);
    // 'localhost' is in the server certificate too.
    const viaName = await requestText(pebble.directoryUrl.replace('127.0.0.1', 'localhost'), {
      ca: pebble.caBundlePem,
    });
    expect(viaName.status).toBe(200);
  });

  it('exposes the management interface (roots, intermediates)', async () => {
    const roots = await pebble.rootCertificates();
    expect(roots).toHaveLength(1);
    const root = new X509Certificate(roots[0]!);
    const intermediate = new X509Certificate(await pebble.intermediate(0));
    expect(intermediate.checkIssued(root)).toBe(true);
    await expect(pebble.certStatusBySerial('00:de:ad:be:ef')).rejects.toThrow(/no certificate with serial deadbeef/);
  });

  it('challtestsrv answers TXT and A mocks on its DNS port', async () => {
    const resolver = resolverFor(pebble.challtestsrv.dnsAddress);
    await pebble.challtestsrv.setTxt('_acme-challenge.txt.example.test', 'value-1');
    expect(await resolver.resolveTxt('_acme-challenge.txt.example.test')).toEqual([['value-1']]);
    await pebble.challtestsrv.clearTxt('_acme-challenge.txt.example.test.');
    await expect(resolver.resolveTxt('_acme-challenge.txt.example.test')).rejects.toThrow();
    // Default: every name is 127.0.0.1 and has no AAAA (Pebble would dial ::1 first otherwise).
    expect(await resolver.resolve4('anything.example.test')).toEqual(['127.0.0.1']);
    await expect(resolver.resolve6('anything.example.test')).rejects.toThrow();
    await pebble.challtestsrv.addA('mocked.example.test', '127.0.0.2');
    expect(await resolver.resolve4('mocked.example.test')).toEqual(['127.0.0.2']);
    await pebble.challtestsrv.clearA('mocked.example.test');
  });

  it('issues through dns-01 (challtestsrv) and http-01 (httpPort), and reports revocation', async () => {
    const viaDns = await issue(pebble, 'dns.example.test', 'dns-01', async (_token, keyAuthorization) => {
      await pebble.challtestsrv.setTxt(
        '_acme-challenge.dns.example.test',
        b64u(createHash('sha256').update(keyAuthorization).digest()),
      );
    });
    expect(viaDns.leaf.subjectAltName).toContain('DNS:dns.example.test');
    expect(viaDns.leaf.checkIssued(new X509Certificate(await pebble.intermediate(0)))).toBe(true);

    const tokens = new Map<string, string>();
    const server = await serveHttp01(pebble.httpPort, tokens);
    try {
      const viaHttp = await issue(pebble, 'http.example.test', 'http-01', async (token, keyAuthorization) => {
        tokens.set(token, keyAuthorization);
      });
      expect(viaHttp.leaf.subjectAltName).toContain('DNS:http.example.test');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    const serial = viaDns.leaf.serialNumber;
    expect((await pebble.certStatusBySerial(serial)).status).toBe('Valid');
    const der = viaDns.leaf.raw;
    const revoked = await viaDns.acme.post(viaDns.acme.url('revokeCert'), { certificate: b64u(der), reason: 4 });
    expect(revoked.status, revoked.body).toBe(200);
    const status = await pebble.certStatusBySerial(serial.toLowerCase());
    expect(status.status).toBe('Revoked');
    expect(status.reason).toBe(4);
  });

  const sid = sidPebbleState();
  // Once install.sh has run, a missing 2.10 binary is a failure, not a skip.
  it.runIf(sid !== 'not-attempted')('uses Pebble 2.10 from the sid cache, with ARI and profiles', async () => {
    expect(sid, `${PEBBLE_SID_CACHE_DIR} exists but holds no pebble binary: re-run scripts/testbed/install.sh`).toBe(
      'installed',
    );
    expect(pebble.installation.fromSidCache).toBe(true);
    expect(pebble.version).toBe('2.10');
    expect(pebble.supportsAri).toBe(true);
    expect(pebble.supportsProfiles).toBe(true);
    expect(() => requirePebbleFeature(pebble, 'ari')).not.toThrow();
    expect(() => requirePebbleFeature(pebble, 'profiles')).not.toThrow();
    const meta = pebble.directory.meta as { profiles: Record<string, string> };
    expect(Object.keys(meta.profiles).sort()).toEqual(['default', 'shortlived']);
  });

  it.runIf(sid !== 'not-attempted')(
    'issues with the shortlived profile and answers set-renewal-info through renewalInfo',
    async () => {
      requirePebbleFeature(pebble, 'profiles');
      requirePebbleFeature(pebble, 'ari');
      const issued = await issue(
        pebble,
        'short.example.test',
        'dns-01',
        (_token, keyAuthorization) =>
          pebble.challtestsrv.setTxt(
            '_acme-challenge.short.example.test',
            b64u(createHash('sha256').update(keyAuthorization).digest()),
          ),
        { profile: 'shortlived' },
      );
      expect(issued.order.profile).toBe('shortlived');
      const lifetime = Date.parse(issued.leaf.validTo) - Date.parse(issued.leaf.validFrom);
      expect(lifetime).toBeLessThanOrEqual(518_400_000 + 1_000);

      const leafPem = issued.leaf.toString();
      const renewalUrl = `${String(pebble.directory.renewalInfo)}/${await ariCertId(leafPem)}`;
      const before = await requestText(renewalUrl, { ca: pebble.caBundlePem });
      expect(before.status, before.body).toBe(200);
      expect(JSON.parse(before.body)).toHaveProperty('suggestedWindow');
      const past = { suggestedWindow: { start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z' } };
      await pebble.setRenewalInfo(leafPem, past);
      const after = await requestText(renewalUrl, { ca: pebble.caBundlePem });
      expect(JSON.parse(after.body)).toEqual(past);
    },
  );
});

describe('Pebble from bookworm (2.4)', () => {
  let pebble: PebbleHandle;
  beforeAll(async () => {
    pebble = await timed('startPebble (bookworm 2.4, RSA CA keys)', () => startPebble({ binary: 'bookworm' }));
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('starts with the -dns01 challtestsrv flag and reports no ARI or profiles', async () => {
    expect(pebble.version).toBe('2.4');
    expect(pebble.supportsAri).toBe(false);
    expect(pebble.supportsProfiles).toBe(false);
    expect(() => requirePebbleFeature(pebble, 'ari')).toThrow(/needs Pebble with ACME Renewal Information.*2\.4\.0/);
    await pebble.challtestsrv.setTxt('_acme-challenge.old.example.test', 'old');
    expect(await resolverFor(pebble.challtestsrv.dnsAddress).resolveTxt('_acme-challenge.old.example.test')).toEqual([
      ['old'],
    ]);
  });
});

describe('Pebble options', () => {
  let pebble: PebbleHandle;
  beforeAll(async () => {
    pebble = await startPebble({
      externalAccountBindingRequired: true,
      externalAccountMACKeys: { 'kid-1': b64u(Buffer.alloc(32, 7)) },
      retryAfter: { authz: 2, order: 3 },
      env: { PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  it('requires External Account Binding and accepts the configured MAC key', async () => {
    expect((pebble.directory.meta as Record<string, unknown>).externalAccountRequired).toBe(true);
    const without = new TinyAcme(pebble);
    await without.init();
    const refused = await without.register();
    expect(refused.json.type).toBe('urn:ietf:params:acme:error:externalAccountRequired');
    const withEab = new TinyAcme(pebble);
    await withEab.init();
    const accepted = await withEab.register({ kid: 'kid-1', key: pebble.externalAccountMACKeys['kid-1']! });
    expect(accepted.status, accepted.body).toBe(201);
  });

  // Measured on 2.4 and 2.10: no Retry-After on a merely pending authorization; it comes while a
  // challenge is processing (authz value) and on a processing order (order value), and Pebble
  // picks at random between delta-seconds and an HTTP-date.
  it('sends Retry-After while validation and finalization are in progress', async () => {
    const retryAfterSeconds = (res: AcmeResponse): number | undefined => {
      const value = res.headers['retry-after'];
      if (typeof value !== 'string') return undefined;
      if (/^\d+$/.test(value)) return Number(value);
      return (Date.parse(value) - Date.parse(String(res.headers.date))) / 1000;
    };
    const acme = new TinyAcme(pebble);
    await acme.init();
    await acme.register({ kid: 'kid-1', key: pebble.externalAccountMACKeys['kid-1']! });
    const name = 'slow.example.test';
    const order = await acme.post(acme.url('newOrder'), { identifiers: [{ type: 'dns', value: name }] });
    const orderUrl = String(order.headers.location);
    const authzUrl = (order.json.authorizations as string[])[0]!;
    const pending = await acme.post(authzUrl, '');
    expect(pending.json.status).toBe('pending');
    expect(pending.headers['retry-after']).toBeUndefined();

    const challenge = (pending.json.challenges as Array<Record<string, string>>).find((c) => c.type === 'http-01')!;
    // The answer is held until the challenge has been seen "processing", so that state lasts as
    // long as the test needs it, however slow the machine.
    const keyAuthorization = `${challenge.token}.${acme.thumbprint()}`;
    const held: ServerResponse[] = [];
    let answering = false;
    const server = createServer((_req, res) => {
      if (answering) res.end(keyAuthorization);
      else held.push(res);
    });
    await new Promise<void>((resolve) => server.listen(pebble.httpPort, '127.0.0.1', resolve));
    try {
      await acme.post(challenge.url!, {});
      const processing = await waitUntil(
        async () => {
          const res = await acme.post(authzUrl, '');
          const busy = (res.json.challenges as Array<{ status: string }>).some((c) => c.status === 'processing');
          return busy ? res : undefined;
        },
        { timeoutMs: 5_000, what: 'a processing challenge', daemons: [pebble.daemon] },
      );
      expect(retryAfterSeconds(processing)).toBe(2);
      answering = true;
      for (const res of held.splice(0)) res.end(keyAuthorization);
      await acme.pollUntil(authzUrl, (json) => json.status === 'valid', `authorization of ${name}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }

    const dir = await makeTempDir('retry-after');
    try {
      await runCommand('openssl', [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-noenc',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'csr.der'),
        '-outform',
        'DER',
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=DNS:${name}`,
      ]);
      const ready = await acme.post(orderUrl, '');
      const finalized = await acme.post(String(ready.json.finalize), {
        csr: b64u(await readFile(join(dir, 'csr.der'))),
      });
      expect(['processing', 'valid']).toContain(finalized.json.status);
      if (finalized.json.status === 'processing') expect(retryAfterSeconds(finalized)).toBe(3);
    } finally {
      await removeTempDir(dir);
    }
  });

  it('generates an EAB key when EAB is required and none is given', async () => {
    const generated = await startPebble({ externalAccountBindingRequired: true });
    try {
      expect(Object.keys(generated.externalAccountMACKeys)).toEqual(['kid-1']);
      expect(Buffer.from(generated.externalAccountMACKeys['kid-1']!, 'base64url')).toHaveLength(32);
    } finally {
      await generated.stop();
    }
  });
});

describe('stop()', () => {
  it('leaves no Pebble or challtestsrv process and frees the ports', async () => {
    const pebble = await startPebble();
    const pids = [pebble.daemon.pid, pebble.challtestsrv.daemon.pid];
    const ports = [Number(new URL(pebble.directoryUrl).port), Number(new URL(pebble.managementUrl).port)];
    const tempDir = pebble.tempDir;
    expect(pids.map(processIsAlive)).toEqual([true, true]);
    await pebble.stop();
    expect(pids.map(processIsAlive)).toEqual([false, false]);
    for (const port of ports) expect(await connectRefused(port)).toBe(true);
    expect(existsSync(tempDir)).toBe(false);
    await pebble.stop(); // idempotent
  });
});

describe('BIND', () => {
  const keys = [
    { name: 'k256', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 1).toString('base64') },
    { name: 'k512', algorithm: 'hmac-sha512' as const, secret: Buffer.alloc(64, 2).toString('base64') },
    { name: 'k1', algorithm: 'hmac-sha1' as const, secret: Buffer.alloc(20, 3).toString('base64') },
  ];
  let bind: BindHandle;
  let scratch: string;
  beforeAll(async () => {
    bind = await timed('startBind', () =>
      startBind({
        zones: [
          { name: 'example.test', records: ['_acme-challenge.alias CNAME _acme-challenge.target.example.test.'] },
          { name: 'readonly.test', updateKeys: [] },
        ],
        tsigKeys: keys,
      }),
    );
    scratch = await makeTempDir('testbed-nsupdate');
  });
  afterAll(async () => {
    await bind?.stop();
    if (scratch) await removeTempDir(scratch);
  });

  async function nsupdate(keyName: string | undefined, commands: string[]): Promise<void> {
    const script = join(scratch, `update-${Math.random().toString(36).slice(2)}.txt`);
    await writeFile(script, [`server 127.0.0.1 ${bind.port}`, ...commands, 'send', ''].join('\n'));
    await runCommand('nsupdate', [...(keyName ? ['-k', bind.keyFilePath(keyName)] : []), '-t', '5', script]);
  }

  it('answers SOA, NS, the apex and wildcard A, and the extra records', async () => {
    expect((await bind.query('example.test', 'SOA'))[0]).toMatch(
      /^ns\.example\.test\. hostmaster\.example\.test\. \d+/,
    );
    expect(await bind.query('example.test', 'NS')).toEqual(['ns.example.test.']);
    expect(await bind.query('example.test', 'A')).toEqual(['127.0.0.1']);
    expect(await bind.query('anything.example.test', 'A')).toEqual(['127.0.0.1']);
    expect(await bind.query('_acme-challenge.alias.example.test', 'CNAME')).toEqual([
      '_acme-challenge.target.example.test.',
    ]);
    expect(await bind.query('readonly.test', 'SOA')).toHaveLength(1);
    expect(await readFile(bind.keyFilePath('k256'), 'utf8')).toBe(
      `key "k256" {\n  algorithm hmac-sha256;\n  secret "${keys[0]!.secret}";\n};\n`,
    );
  });

  it.each(keys.map((key) => [key.name, key.algorithm]))('accepts a TSIG-signed nsupdate with %s (%s)', async (name) => {
    const host = `_acme-challenge.${name}.example.test`;
    await nsupdate(name, ['zone example.test', `update add ${host}. 5 TXT "signed-by-${name}"`]);
    expect(await bind.queryTxt(host)).toEqual([`signed-by-${name}`]);
    expect(await bind.query(host, 'TXT')).toEqual([`"signed-by-${name}"`]);
    await nsupdate(name, ['zone example.test', `update delete ${host}. TXT`]);
    expect(await bind.queryTxt(host)).toEqual([]);
  });

  it('refuses unsigned updates and updates to a zone the key may not change', async () => {
    await expect(
      nsupdate(undefined, ['zone example.test', 'update add nokey.example.test. 5 TXT "x"']),
    ).rejects.toThrow(/REFUSED/);
    await expect(nsupdate('k256', ['zone readonly.test', 'update add x.readonly.test. 5 TXT "x"'])).rejects.toThrow(
      /REFUSED/,
    );
    expect(await bind.queryTxt('nokey.example.test')).toEqual([]);
  });

  it('lets Pebble validate dns-01 and http-01 through BIND', async () => {
    const pebble = await startPebble({ dnsServer: bind.dnsServer, env: { PEBBLE_WFE_NONCEREJECT: '0' } });
    try {
      expect(pebble.dnsServer).toBe(bind.dnsServer);
      expect(() => pebble.challtestsrv).toThrow(/no challtestsrv/);
      // The TXT lives under a CNAME: the validator must follow it through BIND.
      await issue(pebble, 'alias.example.test', 'dns-01', async (_token, keyAuthorization) => {
        const value = b64u(createHash('sha256').update(keyAuthorization).digest());
        await nsupdate('k256', [
          'zone example.test',
          `update add _acme-challenge.target.example.test. 5 TXT "${value}"`,
        ]);
      });
      const tokens = new Map<string, string>();
      const server = await serveHttp01(pebble.httpPort, tokens);
      try {
        await issue(pebble, 'web.example.test', 'http-01', async (token, keyAuthorization) => {
          tokens.set(token, keyAuthorization);
        });
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      await pebble.stop();
    }
  });

  it('stop() leaves no named process behind', async () => {
    const other = await startBind({ zones: [{ name: 'gone.test' }] });
    const { pid } = other.daemon;
    expect(processIsAlive(pid)).toBe(true);
    await other.stop();
    expect(processIsAlive(pid)).toBe(false);
    expect(await connectRefused(other.port)).toBe(true);
  });
});
