import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeDnsPort, freePorts } from './ports.js';
import { makeTempDir, removeTempDir, runCommand, startDaemon, waitUntil, type Daemon } from './processes.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where scripts/testbed/install.sh unpacks sid's pebble package (same override as the script). */
export const PEBBLE_SID_CACHE_DIR = process.env.ACMECLI_PEBBLE_SID_DIR ?? join(REPO_ROOT, '.cache', 'pebble-sid');
const SYSTEM_BIN_DIR = '/usr/bin';

export type PebbleFeature = 'ari' | 'profiles';

export interface PebbleInstallation {
  pebblePath: string;
  challtestsrvPath: string;
  /** 'major.minor' ('2.4', '2.10'), or the raw string when it does not parse. */
  version: string;
  /** Full Debian package version, e.g. '2.10.0+ds1-2'. */
  packageVersion: string;
  fromSidCache: boolean;
}

/**
 * State of the sid download: 'installed' (binaries cached), 'missing' (install.sh ran but left no
 * binary: a failure for anything that needs ARI or profiles) or 'not-attempted'.
 */
export function sidPebbleState(): 'installed' | 'missing' | 'not-attempted' {
  if (!existsSync(PEBBLE_SID_CACHE_DIR)) return 'not-attempted';
  const bin = join(PEBBLE_SID_CACHE_DIR, 'root', 'usr', 'bin');
  return existsSync(join(bin, 'pebble')) && existsSync(join(bin, 'pebble-challtestsrv')) ? 'installed' : 'missing';
}

const installations = new Map<string, PebbleInstallation>();

/** The Pebble binaries to use: sid's 2.10 from the cache when present, else Debian's own. */
export function findPebble(binary: 'auto' | 'sid' | 'bookworm' = 'auto'): PebbleInstallation {
  const cached = installations.get(binary);
  if (cached) return cached;
  const sidBin = join(PEBBLE_SID_CACHE_DIR, 'root', 'usr', 'bin');
  const useSid = binary === 'sid' || (binary === 'auto' && sidPebbleState() === 'installed');
  let installation: PebbleInstallation;
  if (useSid) {
    if (sidPebbleState() !== 'installed') {
      throw new Error(
        `Pebble from Debian sid is not cached in ${PEBBLE_SID_CACHE_DIR}: run scripts/testbed/install.sh (as root)`,
      );
    }
    // `pebble -version` says "dev" in Debian's build, so the package version is the reliable source.
    const versionFile = join(PEBBLE_SID_CACHE_DIR, 'VERSION');
    const packageVersion = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : 'unknown';
    installation = {
      pebblePath: join(sidBin, 'pebble'),
      challtestsrvPath: join(sidBin, 'pebble-challtestsrv'),
      version: majorMinor(packageVersion),
      packageVersion,
      fromSidCache: true,
    };
  } else {
    const pebblePath = join(SYSTEM_BIN_DIR, 'pebble');
    if (!existsSync(pebblePath)) {
      throw new Error(`${pebblePath} is missing: run scripts/setup.sh (or scripts/testbed/install.sh as root)`);
    }
    const query = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'pebble'], { encoding: 'utf8' });
    const packageVersion = query.status === 0 ? query.stdout.trim() : 'unknown';
    installation = {
      pebblePath,
      challtestsrvPath: join(SYSTEM_BIN_DIR, 'pebble-challtestsrv'),
      version: majorMinor(packageVersion),
      packageVersion,
      fromSidCache: false,
    };
  }
  installations.set(binary, installation);
  return installation;
}

function majorMinor(packageVersion: string): string {
  const match = /^(?:\d+:)?(\d+)\.(\d+)/.exec(packageVersion);
  return match ? `${match[1]}.${match[2]}` : packageVersion;
}

function versionAtLeast(version: string, major: number, minor: number): boolean {
  const match = /^(\d+)\.(\d+)$/.exec(version);
  // An unparsable version is most likely a newer build: assume the features are there.
  if (!match) return true;
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}

interface ChalltestsrvFlags {
  dns: '-dns01' | '-dnsserver';
  hasDoh: boolean;
}
const challtestsrvFlagCache = new Map<string, ChalltestsrvFlags>();

/** The DNS listener flag was renamed from -dns01 (2.4) to -dnsserver (2.10): read it off -h. */
function challtestsrvFlags(path: string): ChalltestsrvFlags {
  const cached = challtestsrvFlagCache.get(path);
  if (cached) return cached;
  const help = spawnSync(path, ['-h'], { encoding: 'utf8', timeout: 5_000 });
  const text = `${help.stdout ?? ''}${help.stderr ?? ''}`;
  let flags: ChalltestsrvFlags;
  if (/^\s*-dnsserver\b/m.test(text)) flags = { dns: '-dnsserver', hasDoh: /^\s*-doh\b/m.test(text) };
  else if (/^\s*-dns01\b/m.test(text)) flags = { dns: '-dns01', hasDoh: /^\s*-doh\b/m.test(text) };
  else throw new Error(`cannot tell the DNS flag of ${path} from its -h output:\n${text}`);
  challtestsrvFlagCache.set(path, flags);
  return flags;
}

// ---------------------------------------------------------------------------------------------
// HTTP(S) plumbing

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP or HTTPS request. For HTTPS, `ca` is the only trust anchor (the throw-away test CA);
 * verification stays on. No keep-alive agent, so no socket outlives the call.
 */
export function requestText(
  url: string,
  options: { ca?: string; method?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method ?? 'GET',
        headers: {
          // Pebble answers 400 to requests without one (RFC 8555 section 6.1).
          'user-agent': 'acmecli-testbed',
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
        agent: false,
        ...(target.protocol === 'https:' ? { ca: options.ca } : {}),
        timeout: options.timeoutMs ?? 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

// ---------------------------------------------------------------------------------------------
// Throw-away TLS material for Pebble's own listeners

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

export interface TlsMaterial {
  caCertPath: string;
  caCertPem: string;
  serverCertPath: string;
  serverKeyPath: string;
}

/** A CA and a server certificate for localhost / 127.0.0.1 / ::1 signed by it, made with openssl. */
export async function makeTestTls(dir: string): Promise<TlsMaterial> {
  const configPath = join(dir, 'openssl.cnf');
  await writeFile(configPath, OPENSSL_CONFIG);
  const caKey = join(dir, 'tls-ca.key');
  const caCertPath = join(dir, 'tls-ca.pem');
  const serverKeyPath = join(dir, 'tls-server.key');
  const serverCertPath = join(dir, 'tls-server.pem');
  const common = [
    '-config',
    configPath,
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-noenc',
    '-days',
    '7',
  ];
  await runCommand('openssl', [
    'req',
    ...common,
    '-keyout',
    caKey,
    '-out',
    caCertPath,
    '-subj',
    `/CN=acmecli test bed CA ${randomBytes(4).toString('hex')}`,
    '-extensions',
    'ca_ext',
  ]);
  await runCommand('openssl', [
    'req',
    ...common,
    '-keyout',
    serverKeyPath,
    '-out',
    serverCertPath,
    '-subj',
    '/CN=localhost',
    '-CA',
    caCertPath,
    '-CAkey',
    caKey,
    '-extensions',
    'server_ext',
  ]);
  return { caCertPath, caCertPem: await readFile(caCertPath, 'utf8'), serverCertPath, serverKeyPath };
}

// ---------------------------------------------------------------------------------------------
// pebble-challtestsrv

export interface ChalltestsrvHandle {
  /** "127.0.0.1:PORT", for Pebble's -dnsserver or a node:dns Resolver. */
  readonly dnsAddress: string;
  readonly dnsPort: number;
  readonly managementUrl: string;
  readonly daemon: Daemon;
  /** Sets the TXT answer for `host` (a trailing dot is added when missing). */
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  addA(host: string, ip: string | string[]): Promise<void>;
  clearA(host: string): Promise<void>;
  addAaaa(host: string, ip: string | string[]): Promise<void>;
  clearAaaa(host: string): Promise<void>;
  /** The answer for every A query without an explicit mock; '' for none. */
  setDefaultIpv4(ip: string): Promise<void>;
  setDefaultIpv6(ip: string): Promise<void>;
  /** Any other management endpoint, e.g. post('/add-caa', {...}). */
  post(path: string, body: unknown): Promise<void>;
  stop(): Promise<void>;
}

export interface ChalltestsrvOptions {
  binary?: 'auto' | 'sid' | 'bookworm';
  dnsPort?: number;
  managementPort?: number;
  /** Default IPv4 answer; 127.0.0.1 unless given. */
  defaultIpv4?: string;
  /** Default IPv6 answer; none unless given (Pebble dials the first address it finds, AAAA first). */
  defaultIpv6?: string;
  logDir?: string;
  startTimeoutMs?: number;
}

/** Whether the resolver's server answers at all (an empty answer counts; a timeout does not). */
async function dnsAnswers(resolver: Resolver): Promise<boolean> {
  try {
    await resolver.resolve4('testbed-ready.test');
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return true;
    throw error;
  }
}

function fqdn(host: string): string {
  return host.endsWith('.') ? host : `${host}.`;
}

/** challtestsrv as a DNS server only (its challenge listeners stay off, they would take ports). */
export async function startChalltestsrv(options: ChalltestsrvOptions = {}): Promise<ChalltestsrvHandle> {
  const installation = findPebble(options.binary);
  const flags = challtestsrvFlags(installation.challtestsrvPath);
  const dnsPort = options.dnsPort ?? (await freeDnsPort());
  const managementPort = options.managementPort ?? (await freePorts(1))[0]!;
  const args = [
    flags.dns,
    `127.0.0.1:${dnsPort}`,
    '-management',
    `127.0.0.1:${managementPort}`,
    '-defaultIPv4',
    options.defaultIpv4 ?? '127.0.0.1',
    '-defaultIPv6',
    options.defaultIpv6 ?? '',
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    ...(flags.hasDoh ? ['-doh', ''] : []),
  ];
  const daemon = await startDaemon({
    name: 'challtestsrv',
    command: installation.challtestsrvPath,
    args,
    ...(options.logDir ? { logDir: options.logDir } : {}),
  });
  const managementUrl = `http://127.0.0.1:${managementPort}`;
  const post = async (path: string, body: unknown): Promise<void> => {
    const res = await requestText(`${managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (res.status !== 200) {
      throw new Error(`challtestsrv POST ${path} ${JSON.stringify(body)} answered ${res.status}: ${res.body}`);
    }
  };
  const handle: ChalltestsrvHandle = {
    dnsAddress: `127.0.0.1:${dnsPort}`,
    dnsPort,
    managementUrl,
    daemon,
    setTxt: (host, value) => post('/set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => post('/clear-txt', { host: fqdn(host) }),
    addA: (host, ip) => post('/add-a', { host: fqdn(host), addresses: [ip].flat() }),
    clearA: (host) => post('/clear-a', { host: fqdn(host) }),
    addAaaa: (host, ip) => post('/add-aaaa', { host: fqdn(host), addresses: [ip].flat() }),
    clearAaaa: (host) => post('/clear-aaaa', { host: fqdn(host) }),
    setDefaultIpv4: (ip) => post('/set-default-ipv4', { ip }),
    setDefaultIpv6: (ip) => post('/set-default-ipv6', { ip }),
    post,
    stop: () => daemon.stop(),
  };
  try {
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([handle.dnsAddress]);
    const waitOptions = { timeoutMs: options.startTimeoutMs ?? 10_000, daemons: [daemon] };
    // Its DNS and management listeners start in separate goroutines: wait for both.
    await Promise.all([
      waitUntil(async () => (await requestText(`${managementUrl}/`, { timeoutMs: 1_000 })).status > 0, {
        ...waitOptions,
        what: `challtestsrv management on ${managementUrl}`,
      }),
      waitUntil(() => dnsAnswers(resolver), {
        ...waitOptions,
        what: `challtestsrv DNS on ${handle.dnsAddress}`,
      }),
    ]);
  } catch (error) {
    await daemon.stop().catch(() => undefined);
    throw error;
  }
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Pebble

export interface PebbleProfile {
  description: string;
  /** Seconds. */
  validityPeriod?: number;
}

export interface PebbleOptions {
  /** Which binaries: sid's 2.10 when cached ('auto'), or force one. */
  binary?: 'auto' | 'sid' | 'bookworm';
  /** Where Pebble's validator connects for http-01 / tls-alpn-01; free ports when omitted. */
  httpPort?: number;
  tlsPort?: number;
  externalAccountBindingRequired?: boolean;
  /** kid → base64url HMAC key. When EAB is required and none are given, one random key 'kid-1'. */
  externalAccountMACKeys?: Record<string, string>;
  /** Seconds Pebble puts in Retry-After on pending authorizations / orders (unset: no header). */
  retryAfter?: { authz?: number; order?: number };
  /** Pebble >= 2.7 only; default: 'default' and 'shortlived' (6 days). */
  profiles?: Record<string, PebbleProfile>;
  /** Seconds; on 2.10 it also becomes the 'default' profile's validity. */
  certificateValidityPeriod?: number;
  /** Pebble >= 2.7: key type of its own root and intermediates; 'ecdsa' unless given (2.4: always RSA). */
  keyAlgorithm?: 'rsa' | 'ecdsa';
  domainBlocklist?: string[];
  /** Resolver for the validator, e.g. BIND's "127.0.0.1:PORT"; no challtestsrv is started then. */
  dnsServer?: string;
  /** Over PEBBLE_VA_NOSLEEP=1; e.g. PEBBLE_WFE_NONCEREJECT, PEBBLE_AUTHZREUSE, PEBBLE_CHAIN_LENGTH. */
  env?: Record<string, string | undefined>;
  strict?: boolean;
  /** Extra raw keys for the "pebble" object of the config file. */
  extraConfig?: Record<string, unknown>;
  startTimeoutMs?: number;
  /** Keep the temp dir (config, certs, logs) after stop(); also with ACMECLI_KEEP_TESTBED=1. */
  keepTempDir?: boolean;
}

export interface PebbleCertStatus {
  /** 'Valid' or 'Revoked'. */
  status: string;
  serial: string;
  certificate: string;
  reason?: number;
  revokedAt?: string;
  raw: Record<string, unknown>;
}

export interface PebbleHandle {
  readonly directoryUrl: string;
  /** The directory as Pebble answered it at start-up. */
  readonly directory: Record<string, unknown>;
  /** PEM file of the throw-away CA that signed Pebble's HTTPS certificate (for --ca-bundle). */
  readonly caBundlePath: string;
  readonly caBundlePem: string;
  readonly httpPort: number;
  readonly tlsPort: number;
  readonly managementUrl: string;
  /** 'major.minor', e.g. '2.4' or '2.10'. */
  readonly version: string;
  readonly installation: PebbleInstallation;
  readonly supportsAri: boolean;
  readonly supportsProfiles: boolean;
  readonly externalAccountMACKeys: Record<string, string>;
  /** The resolver Pebble's validator uses ("127.0.0.1:PORT"). */
  readonly dnsServer: string;
  /** Throws unless challtestsrv was started (it is not when options.dnsServer was given). */
  readonly challtestsrv: ChalltestsrvHandle;
  readonly tempDir: string;
  readonly configPath: string;
  readonly daemon: Daemon;
  logTail(lines?: number): string;
  /** PEMs of /roots/0, /roots/1, ... (alternate roots with PEBBLE_ALTERNATE_ROOTS). */
  rootCertificates(): Promise<string[]>;
  /** PEM of /intermediates/n. */
  intermediate(n?: number): Promise<string>;
  /** Management /cert-status-by-serial/<hex>; accepts upper case, colons and leading zero bytes. */
  certStatusBySerial(serialHex: string): Promise<PebbleCertStatus>;
  /** 2.10: makes renewalInfo answer `ariResponse` (an object is JSON-encoded) for this certificate. */
  setRenewalInfo(certPem: string, ariResponse: string | object): Promise<void>;
  /** GET on the management interface, for anything not covered above. */
  management(path: string, init?: { method?: string; body?: string }): Promise<HttpResponse>;
  stop(): Promise<void>;
}

const FEATURE_HELP: Record<PebbleFeature, string> = {
  ari: 'ACME Renewal Information (renewalInfo in the directory)',
  profiles: 'certificate profiles (meta.profiles in the directory)',
};

/** Fails (never skips) a test that needs a feature this Pebble lacks, saying how to get it. */
export function requirePebbleFeature(handle: PebbleHandle, feature: PebbleFeature): void {
  const has = feature === 'ari' ? handle.supportsAri : handle.supportsProfiles;
  if (has) return;
  const state = sidPebbleState();
  const hint =
    state === 'missing'
      ? `scripts/testbed/install.sh ran but could not fetch Pebble 2.10 from Debian sid (${PEBBLE_SID_CACHE_DIR} has no binary): re-run it and read its warning`
      : state === 'not-attempted'
        ? 'run scripts/setup.sh (or scripts/testbed/install.sh as root) to fetch Pebble 2.10 from Debian sid'
        : 'the cached sid Pebble was not used (options.binary?)';
  throw new Error(
    `This test needs Pebble with ${FEATURE_HELP[feature]}, but ${handle.installation.pebblePath} is ` +
      `Pebble ${handle.installation.packageVersion}. ${hint}.`,
  );
}

function normaliseSerial(serial: string): string {
  // Pebble keys certificates by hex of big.Int.Bytes(): lower case, no leading zero bytes.
  let hex = serial.replace(/[:\s]/g, '').replace(/^0x/i, '').toLowerCase();
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

function randomMacKey(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Starts challtestsrv (unless options.dnsServer) and Pebble with a throw-away TLS CA, on free
 * loopback ports, and waits until the directory and management interface answer over HTTPS.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<PebbleHandle> {
  // Free ports can be taken between the pick and the bind by a parallel test file; try again then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPebbleOnce(options);
    } catch (error) {
      // A daemon that dies during start-up puts its log tail into the error.
      const portTaken = error instanceof Error && /address already in use/i.test(error.message);
      if (attempt >= 3 || !portTaken) throw error;
    }
  }
}

async function startPebbleOnce(options: PebbleOptions): Promise<PebbleHandle> {
  const installation = findPebble(options.binary);
  const hasProfiles = versionAtLeast(installation.version, 2, 7);
  const tempDir = await makeTempDir('pebble');
  const keepTempDir = options.keepTempDir || process.env.ACMECLI_KEEP_TESTBED === '1';
  let challtestsrv: ChalltestsrvHandle | undefined;
  let daemon: Daemon | undefined;

  const cleanup = async (): Promise<void> => {
    const results = await Promise.allSettled([daemon?.stop(), challtestsrv?.stop()]);
    if (!keepTempDir) await removeTempDir(tempDir);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    // challtestsrv first: Pebble's validator needs it as soon as the first challenge is answered.
    // allSettled, so a challtestsrv that started is recorded (and stopped) even if the rest failed.
    const [tlsResult, portsResult, challtestsrvResult] = await Promise.allSettled([
      makeTestTls(tempDir),
      freePorts(4),
      options.dnsServer
        ? Promise.resolve(undefined)
        : startChalltestsrv({
            binary: options.binary ?? 'auto',
            logDir: tempDir,
            ...(options.startTimeoutMs !== undefined ? { startTimeoutMs: options.startTimeoutMs } : {}),
          }),
    ]);
    if (challtestsrvResult.status === 'fulfilled') challtestsrv = challtestsrvResult.value;
    for (const result of [tlsResult, portsResult, challtestsrvResult]) {
      if (result.status === 'rejected') throw result.reason;
    }
    const tls = (tlsResult as PromiseFulfilledResult<TlsMaterial>).value;
    const ports = (portsResult as PromiseFulfilledResult<number[]>).value;
    const [listenPort, managementPort, freeHttpPort, freeTlsPort] = ports as [number, number, number, number];
    const httpPort = options.httpPort ?? freeHttpPort;
    const tlsPort = options.tlsPort ?? freeTlsPort;

    const macKeys =
      options.externalAccountMACKeys ?? (options.externalAccountBindingRequired ? { 'kid-1': randomMacKey() } : {});
    const pebbleConfig: Record<string, unknown> = {
      listenAddress: `127.0.0.1:${listenPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: tls.serverCertPath,
      privateKey: tls.serverKeyPath,
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.externalAccountBindingRequired ?? false,
      externalAccountMACKeys: macKeys,
    };
    if (options.retryAfter) {
      pebbleConfig.retryAfter = { ...options.retryAfter };
    }
    if (options.certificateValidityPeriod !== undefined) {
      pebbleConfig.certificateValidityPeriod = options.certificateValidityPeriod;
    }
    if (options.domainBlocklist) pebbleConfig.domainBlocklist = options.domainBlocklist;
    if (hasProfiles) {
      // 2.10 takes validity from the profiles and treats certificateValidityPeriod as deprecated.
      pebbleConfig.profiles = options.profiles ?? {
        default: {
          description: 'The default profile',
          validityPeriod: options.certificateValidityPeriod ?? 7_776_000,
        },
        shortlived: { description: 'Short-lived certificates (6 days)', validityPeriod: 518_400 },
      };
      // Go's RSA key generation for Pebble's root and intermediate takes 0.2 to 1 s on a slow
      // core; ECDSA keeps start-up near 0.1 s. Clients do not care what key signs their chain.
      pebbleConfig.keyAlgorithm = options.keyAlgorithm ?? 'ecdsa';
    }
    Object.assign(pebbleConfig, options.extraConfig);
    const configPath = join(tempDir, 'pebble-config.json');
    await writeFile(configPath, `${JSON.stringify({ pebble: pebbleConfig }, null, 2)}\n`);

    const dnsServer = options.dnsServer ?? challtestsrv!.dnsAddress;

    daemon = await startDaemon({
      name: 'pebble',
      command: installation.pebblePath,
      args: ['-config', configPath, '-dnsserver', dnsServer, ...(options.strict ? ['-strict'] : [])],
      env: { PEBBLE_VA_NOSLEEP: '1', ...options.env },
      logDir: tempDir,
    });
    const pebbleDaemon = daemon;

    const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
    const managementUrl = `https://127.0.0.1:${managementPort}`;
    const ca = tls.caCertPem;
    const waitOptions = {
      timeoutMs: options.startTimeoutMs ?? 15_000,
      daemons: [pebbleDaemon, ...(challtestsrv ? [challtestsrv.daemon] : [])],
    };
    const [directory] = await Promise.all([
      waitUntil(
        async () => {
          const res = await requestText(directoryUrl, { ca, timeoutMs: 2_000 });
          if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body}`);
          return JSON.parse(res.body) as Record<string, unknown>;
        },
        { ...waitOptions, what: `Pebble's directory at ${directoryUrl}` },
      ),
      waitUntil(
        async () => {
          const res = await requestText(`${managementUrl}/roots/0`, { ca, timeoutMs: 2_000 });
          if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body}`);
          return true;
        },
        { ...waitOptions, what: `Pebble's management interface at ${managementUrl}` },
      ),
    ]);

    const management = (path: string, init: { method?: string; body?: string } = {}): Promise<HttpResponse> =>
      requestText(`${managementUrl}${path}`, { ca, ...init });
    const getPem = async (path: string): Promise<string> => {
      const res = await management(path);
      if (res.status !== 200) throw new Error(`Pebble management GET ${path} answered ${res.status}: ${res.body}`);
      return res.body;
    };

    const meta = directory.meta as Record<string, unknown> | undefined;
    const handle: PebbleHandle = {
      directoryUrl,
      directory,
      caBundlePath: tls.caCertPath,
      caBundlePem: tls.caCertPem,
      httpPort,
      tlsPort,
      managementUrl,
      version: installation.version,
      installation,
      supportsAri: typeof directory.renewalInfo === 'string',
      supportsProfiles: typeof meta?.profiles === 'object' && meta.profiles !== null,
      externalAccountMACKeys: macKeys,
      dnsServer,
      get challtestsrv(): ChalltestsrvHandle {
        if (!challtestsrv) {
          throw new Error(`no challtestsrv: this Pebble resolves through ${dnsServer} (options.dnsServer)`);
        }
        return challtestsrv;
      },
      tempDir,
      configPath,
      daemon: pebbleDaemon,
      logTail: (lines) => pebbleDaemon.logTail(lines),
      rootCertificates: async () => {
        const roots: string[] = [];
        // Bounded: PEBBLE_ALTERNATE_ROOTS is a small number in any sane test.
        for (let n = 0; n < 32; n++) {
          const res = await management(`/roots/${n}`);
          if (res.status === 404) return roots;
          if (res.status !== 200)
            throw new Error(`Pebble management GET /roots/${n} answered ${res.status}: ${res.body}`);
          roots.push(res.body);
        }
        throw new Error('Pebble reports more than 32 roots');
      },
      intermediate: (n = 0) => getPem(`/intermediates/${n}`),
      certStatusBySerial: async (serialHex) => {
        const serial = normaliseSerial(serialHex);
        const res = await management(`/cert-status-by-serial/${serial}`);
        if (res.status !== 200) {
          throw new Error(`Pebble knows no certificate with serial ${serial} (${res.status}): ${res.body}`);
        }
        const raw = JSON.parse(res.body) as Record<string, unknown>;
        return {
          status: String(raw.Status),
          serial: String(raw.Serial),
          certificate: String(raw.Certificate),
          ...(typeof raw.Reason === 'number' ? { reason: raw.Reason } : {}),
          ...(typeof raw.RevokedAt === 'string' ? { revokedAt: raw.RevokedAt } : {}),
          raw,
        };
      },
      setRenewalInfo: async (certPem, ariResponse) => {
        requirePebbleFeature(handle, 'ari');
        const body = JSON.stringify({
          Certificate: certPem,
          ARIResponse: typeof ariResponse === 'string' ? ariResponse : JSON.stringify(ariResponse),
        });
        const res = await management('/set-renewal-info/', { method: 'POST', body });
        if (res.status !== 200) throw new Error(`Pebble POST /set-renewal-info/ answered ${res.status}: ${res.body}`);
      },
      management,
      stop: cleanup,
    };
    return handle;
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
}
