/**
 * Reliability against a misbehaving network or CA: the built CLI talks to Pebble through a
 * fault-injecting proxy (test/helpers/fault-proxy.ts) that answers 503 and 429 with Retry-After,
 * resets connections, stalls, truncates bodies, answers HTML, drops Replay-Nonce and answers
 * badNonce in bursts. For each scenario, every run either issues or stops in bounded time with
 * a documented exit code and a message naming the fault; a non-idempotent request (newOrder,
 * finalize) is never sent again once the CA may have acted on it; no signed body and no nonce is
 * ever sent twice; and a clean run afterwards issues the certificate.
 *
 * Stalls: acmecli waits 30 s for an answer and the CLI has no way to shorten that, so one CLI
 * run proves the 30 s bound on a stalled newOrder (started in the background at the beginning of
 * the file, so it costs no extra wall time), and the other stall cases run at the AcmeClient
 * level with a 1 s response timeout.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeClient, DEFAULT_RETRY_POLICY } from '../../src/acme/client.js';
import { obtainCertificate } from '../../src/acme/obtain.js';
import { Transport } from '../../src/acme/transport.js';
import { generateKey } from '../../src/crypto/keys.js';
import { NetworkError, messageOf } from '../../src/errors.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { describeRun } from '../helpers/e2e.js';
import {
  SIGNED_KINDS,
  startFaultProxy,
  type FaultProxy,
  type FaultRule,
  type ProxiedRequest,
  type RequestKind,
} from '../helpers/fault-proxy.js';
import { startPebble, type PebbleHandle } from '../helpers/pebble.js';
import { freePort } from '../helpers/ports.js';
import { chooseOnly, startTestHttpSolver } from '../helpers/test-solvers.js';

/**
 * A CLI run still going after this long is killed, which fails its test: the bound behind "stops
 * in bounded time". Far above any run's own waits (a few Retry-After seconds), so a loaded machine
 * does not reach it; no assertion compares a run's duration with it.
 */
const RUN_KILLED_AFTER_MS = 90_000;
/** acmecli's fixed response timeout (Transport's default; no CLI flag or variable changes it). */
const DEFAULT_RESPONSE_TIMEOUT_MS = 30_000;

const ExitOk = 0;
const ExitCaRefused = 3;
const ExitNetwork = 5;

let pebble: PebbleHandle;
let proxy: FaultProxy;
/** A second proxy, only for the CLI run that meets a stall (it runs alongside the others). */
let stallProxy: FaultProxy;
let workDir: string;
let configDir: string;
let caBundlePath: string;
let stalledCliRun: Promise<CliResult> | undefined;

interface Row {
  scenario: string;
  level: 'cli' | 'client';
  runs: number;
  successes: number;
  cleanFailures: number;
  /** Runs that ended any other way (the test fails when this is not 0). */
  other: number;
  worstMs: number;
  laterRunOk: boolean;
}
const rows: Row[] = [];
/** The error line of one clean failure per scenario, to show how each fault is named. */
const messages = new Map<string, string>();

function errorLine(stderr: string): string {
  const line = stderr.split('\n').find((l) => / error: /.test(l)) ?? stderr.trim().split('\n').at(-1) ?? '';
  const text = line.replace(/^\S+ error: /, '');
  return text.length > 220 ? `${text.slice(0, 220)}…` : text;
}

function serverArgs(target: FaultProxy = proxy): string[] {
  return ['--config-dir', configDir, '--server', target.directoryUrl, '--ca-bundle', caBundlePath];
}

beforeAll(async () => {
  // No nonce rejection by Pebble itself, so "the first N" counts only the proxy's faults (the
  // soak covers Pebble's own rejections).
  pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
  const upstream = { upstreamOrigin: new URL(pebble.directoryUrl).origin, upstreamCaPem: pebble.caBundlePem };
  [proxy, stallProxy] = await Promise.all([startFaultProxy({ ...upstream, seed: 8555 }), startFaultProxy(upstream)]);
  workDir = await mkdtemp(join(tmpdir(), 'acmecli-faults-'));
  configDir = join(workDir, 'config');
  caBundlePath = join(workDir, 'ca-bundle.pem');
  // Both throw-away CAs: acmecli only talks to the proxies, which share nothing but Pebble.
  await writeFile(caBundlePath, `${proxy.caPem}${stallProxy.caPem}`);
  const registered = await runCli([...serverArgs(), 'register', '--agree-tos']);
  expect(registered.exitCode, describeRun(registered)).toBe(ExitOk);
  // The stall proxy's server URL is another account slot in the same config dir.
  const registeredStall = await runCli([...serverArgs(stallProxy), 'register', '--agree-tos']);
  expect(registeredStall.exitCode, describeRun(registeredStall)).toBe(ExitOk);

  stallProxy.setRules([{ name: 'stall newOrder', kinds: ['newOrder'], fault: { type: 'stall', stage: 'headers' } }]);
  stallProxy.beginRun('stall#0');
  // Its own --http-port: a stalled newOrder never gets to validation, and the standalone plugin's
  // port check must not meet the listeners of the runs going on at the same time.
  const unusedPort = await freePort();
  stalledCliRun = runCli(
    [
      ...serverArgs(stallProxy),
      'issue',
      '-d',
      'stall.faults.example.test',
      '--standalone',
      '--http-port',
      String(unusedPort),
      '--force',
    ],
    { timeoutMs: 3 * DEFAULT_RESPONSE_TIMEOUT_MS },
  );
});

afterAll(async () => {
  if (rows.length > 0) {
    console.log('fault proxy scenarios (runs with faults; then one clean run):');
    console.table(rows);
    console.log('how each fault was reported (one clean failure per scenario):');
    for (const [scenario, message] of messages) console.log(`  ${scenario}: ${message}`);
  }
  // A failed beforeAll may leave the background run going: wait for it (it is bounded) before stopping.
  await stalledCliRun?.catch(() => undefined);
  await Promise.allSettled([proxy?.stop(), stallProxy?.stop()]);
  await pebble?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// What the client sent

interface JwsView {
  nonce: string | undefined;
  url: string | undefined;
}

function jwsOf(request: ProxiedRequest): JwsView | undefined {
  if (request.method !== 'POST' || request.body.length === 0) return undefined;
  try {
    const jws = JSON.parse(request.body.toString('utf8')) as { protected?: string };
    const header = JSON.parse(Buffer.from(jws.protected ?? '', 'base64url').toString('utf8')) as {
      nonce?: string;
      url?: string;
    };
    return { nonce: header.nonce, url: header.url };
  } catch {
    return undefined;
  }
}

function answeredBadNonce(request: ProxiedRequest): boolean {
  return request.faultType === 'bad-nonce' || request.upstreamProblem === 'badNonce';
}

/**
 * RFC 8555 replay rules, over everything the proxies ever saw: no signed body is sent twice
 * byte for byte, and no nonce is used twice.
 */
function expectNoReplays(): void {
  const all = [...proxy.requests, ...stallProxy.requests].filter((r) => r.method === 'POST');
  const bodies = new Set<string>();
  const nonces = new Set<string>();
  for (const request of all) {
    const body = request.body.toString('base64');
    expect(bodies.has(body), `signed body sent twice (${request.kind} ${request.path}, run ${request.run})`).toBe(
      false,
    );
    bodies.add(body);
    const nonce = jwsOf(request)?.nonce;
    expect(nonce, `POST ${request.path} carries no JWS nonce`).toBeTypeOf('string');
    expect(nonces.has(nonce as string), `nonce used twice (${request.kind} ${request.path}, run ${request.run})`).toBe(
      false,
    );
    nonces.add(nonce as string);
  }
}

/**
 * Requests that create something (newOrder, finalize, newAccount, revoke) reached their URL at
 * most once per run, not counting attempts the CA answered badNonce (those it did not act on).
 */
function expectNoRepeatedCreation(requests: readonly ProxiedRequest[], run: string): void {
  for (const kind of ['newOrder', 'finalize', 'newAccount', 'revoke'] as const) {
    const byUrl = new Map<string, number>();
    for (const request of requests.filter((r) => r.kind === kind && !answeredBadNonce(r))) {
      byUrl.set(request.path, (byUrl.get(request.path) ?? 0) + 1);
    }
    for (const [path, count] of byUrl) {
      expect(count, `${kind} ${path} sent ${count} times in run ${run}`).toBe(1);
    }
  }
}

function count(
  requests: readonly ProxiedRequest[],
  kind: RequestKind,
  filter: (r: ProxiedRequest) => boolean = () => true,
): number {
  return requests.filter((r) => r.kind === kind && filter(r)).length;
}

// ---------------------------------------------------------------------------------------------
// CLI scenarios

interface Scenario {
  name: string;
  rules: FaultRule[];
  runs: number;
  /** What a run with faults may end with. */
  outcome: 'success' | 'failure' | 'either';
  /** For failures: the exit code and what stderr must say. */
  failure?: { exitCode: number; names: RegExp };
  /** Extra checks of one run's requests. */
  check?: (requests: ProxiedRequest[], result: CliResult) => void;
}

function domainOf(scenario: Scenario): string {
  const slug = scenario.name
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  // A DNS label holds at most 63 characters; the index keeps shortened names apart.
  return `f${scenarios.indexOf(scenario)}-${slug.slice(0, 40).replace(/-$/, '')}.faults.example.test`;
}

async function issue(domain: string): Promise<CliResult> {
  // --force: a run after a successful one issues again instead of finding the certificate not due.
  return runCli(
    [...serverArgs(), 'issue', '-d', domain, '--standalone', '--http-port', String(pebble.httpPort), '--force'],
    { timeoutMs: RUN_KILLED_AFTER_MS },
  );
}

async function expectCertificateFor(domain: string): Promise<void> {
  const base = join(configDir, 'certificates', domain);
  const [cert, key] = await Promise.all([
    readFile(join(base, 'cert.pem'), 'utf8'),
    readFile(join(base, 'privkey.pem'), 'utf8'),
  ]);
  const certificate = new X509Certificate(cert);
  expect(certificate.subjectAltName).toContain(`DNS:${domain}`);
  // Pebble always sends an intermediate: a chain without one was cut short somewhere.
  const chain = await readFile(join(base, 'chain.pem'), 'utf8');
  expect(chain).toContain('-----BEGIN CERTIFICATE-----');
  expect(certificate.checkIssued(new X509Certificate(chain))).toBe(true);
  const certKey = certificate.publicKey.export({ type: 'spki', format: 'der' });
  const privateKey = createPublicKey(createPrivateKey(key)).export({ type: 'spki', format: 'der' });
  expect(Buffer.compare(certKey, privateKey)).toBe(0);
}

async function runScenario(scenario: Scenario): Promise<void> {
  const domain = domainOf(scenario);
  const row: Row = {
    scenario: scenario.name,
    level: 'cli',
    runs: 0,
    successes: 0,
    cleanFailures: 0,
    other: 0,
    worstMs: 0,
    laterRunOk: false,
  };
  rows.push(row);
  const problems: string[] = [];
  for (let i = 0; i < scenario.runs; i++) {
    const label = `${scenario.name}#${i}`;
    proxy.setRules(scenario.rules);
    proxy.beginRun(label);
    const result = await issue(domain);
    const requests = proxy.requestsOf(label);
    row.runs++;
    row.worstMs = Math.max(row.worstMs, result.durationMs);
    const succeeded = result.exitCode === ExitOk;
    const cleanFailure =
      scenario.failure !== undefined &&
      result.exitCode === scenario.failure.exitCode &&
      scenario.failure.names.test(result.stderr);
    if (succeeded && scenario.outcome !== 'failure') row.successes++;
    else if (cleanFailure && scenario.outcome !== 'success') {
      row.cleanFailures++;
      if (!messages.has(scenario.name)) messages.set(scenario.name, errorLine(result.stderr));
    } else {
      row.other++;
      problems.push(
        `run ${i}: ${describeRun(result)}\nrequests: ${requests.map((r) => `${r.method} ${r.kind}${r.fault ? ` [${r.fault}]` : ''} → ${r.status ?? '-'}`).join(', ')}`,
      );
    }
    expect(result.signal, `run ${i} was killed: ${describeRun(result)}`).toBeNull();
    expectNoRepeatedCreation(requests, label);
    if (succeeded) await expectCertificateFor(domain);
    scenario.check?.(requests, result);
  }
  expect(problems, problems.join('\n\n')).toEqual([]);
  // The faults leave nothing behind that stops a later, clean run.
  proxy.setRules([]);
  proxy.beginRun(`${scenario.name}#clean`);
  const clean = await issue(domain);
  expect(clean.exitCode, describeRun(clean)).toBe(ExitOk);
  await expectCertificateFor(domain);
  row.laterRunOk = true;
  expectNoReplays();
}

/** One rule per kind, so each kind gets its own "first N". */
function perKind(name: string, kinds: readonly RequestKind[], rule: Omit<FaultRule, 'name' | 'kinds'>): FaultRule[] {
  return kinds.map((kind) => ({ ...rule, name: `${name} ${kind}`, kinds: [kind] }));
}

const READS: RequestKind[] = ['authz', 'order', 'certificate'];

const scenarios: Scenario[] = [
  {
    name: '503 + Retry-After on the directory, twice',
    rules: [
      {
        name: '503 directory',
        kinds: ['directory'],
        first: 2,
        fault: { type: 'problem', status: 503, problem: 'serverInternal', retryAfter: '1' },
      },
    ],
    runs: 2,
    outcome: 'success',
    check: (requests) => {
      const reads = requests.filter((r) => r.kind === 'directory');
      expect(reads).toHaveLength(3);
      // Both Retry-After: 1 waits were honoured, not skipped: each 503 had been answered before
      // the proxy took the time of the next request, so a load can only widen the gaps (the
      // margin is the client timer's millisecond rounding).
      for (let i = 1; i < reads.length; i++) {
        expect(reads[i]!.atMs - reads[i - 1]!.atMs).toBeGreaterThanOrEqual(1_000 - 2);
      }
    },
  },
  {
    name: '503 + Retry-After on every 2nd read',
    rules: [
      {
        name: '503 read',
        kinds: READS,
        every: 2,
        fault: { type: 'problem', status: 503, problem: 'serverInternal', retryAfter: '1' },
      },
    ],
    runs: 2,
    outcome: 'success',
    check: (requests) => expect(requests.some((r) => r.fault !== undefined)).toBe(true),
  },
  {
    name: '503 on newOrder',
    rules: [
      {
        name: '503 newOrder',
        kinds: ['newOrder'],
        fault: { type: 'problem', status: 503, problem: 'serverInternal', retryAfter: '1' },
      },
    ],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitCaRefused, names: /serverInternal, HTTP 503/ },
    check: (requests) => expect(count(requests, 'newOrder')).toBe(1),
  },
  {
    name: '503 HTML page on finalize',
    rules: [{ name: '503 finalize', kinds: ['finalize'], fault: { type: 'html', status: 503 } }],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitNetwork, names: /HTTP 503 \(text\/html\) without a problem document/ },
    check: (requests) => expect(count(requests, 'finalize')).toBe(1),
  },
  {
    name: '429 rateLimited on newOrder (Retry-After 1 h)',
    rules: [
      {
        name: '429 newOrder',
        kinds: ['newOrder'],
        fault: {
          type: 'problem',
          status: 429,
          problem: 'rateLimited',
          detail: 'too many new orders recently',
          retryAfter: '3600',
        },
      },
    ],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitCaRefused, names: /rateLimited, HTTP 429/ },
    check: (requests) => {
      // An hour-long Retry-After is reported, not retried; a run that waited for it would have been
      // killed (and failed its signal check) long before the hour.
      expect(DEFAULT_RETRY_POLICY.maxRetryAfterMs).toBeLessThan(3_600_000);
      expect(count(requests, 'newOrder')).toBe(1);
    },
  },
  {
    name: '429 rateLimited + Retry-After 1 on challenge and authorization',
    rules: perKind('429', ['challenge', 'authz'], {
      first: 1,
      fault: { type: 'problem', status: 429, problem: 'rateLimited', retryAfter: '1' },
    }),
    runs: 2,
    outcome: 'success',
    check: (requests) => {
      expect(count(requests, 'authz', (r) => r.fault !== undefined)).toBe(1);
      // No challenge at all when Pebble handed back the earlier run's valid authorization.
      const challenges = count(requests, 'challenge');
      expect([0, 2]).toContain(challenges);
      if (challenges === 2) expect(count(requests, 'challenge', (r) => r.forwarded)).toBe(1);
    },
  },
  {
    name: 'connection reset before reads reach the CA',
    rules: perKind('reset', ['directory', 'newNonce', ...READS], {
      first: 1,
      fault: { type: 'reset', stage: 'request' },
    }),
    runs: 2,
    outcome: 'success',
    check: (requests) => expect(count(requests, 'directory')).toBe(2),
  },
  {
    name: 'connection reset before newOrder reaches the CA',
    rules: [{ name: 'reset newOrder', kinds: ['newOrder'], fault: { type: 'reset', stage: 'request' } }],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitNetwork, names: /order-plz: connection reset by the server \(ECONNRESET\)/ },
    check: (requests) => expect(count(requests, 'newOrder')).toBe(1),
  },
  {
    name: 'connection reset after the CA finalized',
    rules: [{ name: 'reset finalize', kinds: ['finalize'], fault: { type: 'reset', stage: 'response' } }],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitNetwork, names: /finalize-order\/\S+: connection reset by the server \(ECONNRESET\)/ },
    check: (requests) => {
      // The CA acted on it; the client must not finalize again.
      expect(count(requests, 'finalize')).toBe(1);
      expect(count(requests, 'finalize', (r) => r.upstreamStatus === 200)).toBe(1);
    },
  },
  {
    name: 'connection reset after the CA accepted the challenge: the refused retry is read back, not fatal',
    rules: [{ name: 'reset challenge', kinds: ['challenge'], first: 1, fault: { type: 'reset', stage: 'response' } }],
    runs: 1,
    outcome: 'success',
    check: (requests) => {
      // Pebble moved the challenge on after the first POST, so the retry may be refused
      // ("only status pending"); the client then reads the challenge instead of failing.
      const answered = requests.filter((r) => r.kind === 'challenge' && r.upstreamStatus !== undefined);
      expect(answered.length).toBeGreaterThanOrEqual(2);
      expect(count(requests, 'certificate')).toBe(1);
    },
  },
  {
    name: 'connection reset after the CA answered, 15% of all requests (seeded)',
    rules: [{ name: 'reset any', kinds: 'any', probability: 0.15, fault: { type: 'reset', stage: 'response' } }],
    runs: 5,
    outcome: 'either',
    failure: { exitCode: ExitNetwork, names: /connection reset by the server \(ECONNRESET\)/ },
  },
  {
    name: 'truncated body (declared length, connection closed) on reads',
    rules: perKind('truncate', ['directory', ...READS], {
      first: 1,
      fault: { type: 'truncate', framing: 'content-length' },
    }),
    runs: 2,
    outcome: 'success',
    check: (requests) => expect(count(requests, 'certificate')).toBe(2),
  },
  {
    name: 'truncated body (declared length, connection closed) on newOrder',
    rules: [{ name: 'truncate newOrder', kinds: ['newOrder'], fault: { type: 'truncate', framing: 'content-length' } }],
    runs: 2,
    outcome: 'failure',
    failure: {
      exitCode: ExitNetwork,
      names: /order-plz: the response was cut off after \d+ of \d+ bytes \(truncated body/,
    },
    check: (requests) => expect(count(requests, 'newOrder')).toBe(1),
  },
  {
    name: 'truncated JSON (message ended cleanly) on an authorization',
    rules: [{ name: 'truncate authz', kinds: ['authz'], first: 1, fault: { type: 'truncate', framing: 'chunked' } }],
    runs: 2,
    outcome: 'either',
    failure: {
      exitCode: ExitNetwork,
      names:
        /authZ\/\S+ with HTTP 200 and a body of type application\/json.* that breaks off before the JSON is complete \(truncated\)/,
    },
  },
  {
    name: 'PEM chain cut inside the leaf (message ended cleanly)',
    rules: [
      {
        name: 'truncate certificate',
        kinds: ['certificate'],
        fault: { type: 'truncate', framing: 'chunked', keep: 0.3 },
      },
    ],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitNetwork, names: /certZ\/\S+ is unusable: .*truncated/ },
  },
  {
    name: 'PEM chain cut inside the intermediate (message ended cleanly)',
    rules: [
      {
        name: 'truncate certificate',
        kinds: ['certificate'],
        fault: { type: 'truncate', framing: 'chunked', keep: 0.9 },
      },
    ],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitNetwork, names: /certZ\/\S+ is unusable: .*truncated/ },
  },
  {
    name: 'HTML page with 200 instead of the directory',
    rules: [{ name: 'html directory', kinds: ['directory'], fault: { type: 'html', status: 200 } }],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitNetwork, names: /\/dir\) with HTTP 200 and a body of type text\/html that is not JSON/ },
  },
  {
    name: '502 HTML page on every 2nd read',
    rules: [{ name: 'html read', kinds: READS, every: 2, fault: { type: 'html', status: 502 } }],
    runs: 2,
    outcome: 'success',
    check: (requests) => expect(requests.some((r) => r.fault !== undefined)).toBe(true),
  },
  {
    name: 'Replay-Nonce dropped from every POST answer',
    rules: [{ name: 'drop nonce', kinds: SIGNED_KINDS, fault: { type: 'drop-nonce' } }],
    runs: 2,
    outcome: 'success',
    check: (requests) => {
      // Every signed request needed a nonce of its own from newNonce.
      const posts = requests.filter((r) => r.method === 'POST').length;
      expect(count(requests, 'newNonce')).toBe(posts);
    },
  },
  {
    name: 'Replay-Nonce dropped everywhere',
    rules: [{ name: 'drop nonce', kinds: 'any', fault: { type: 'drop-nonce' } }],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitNetwork, names: /no usable Replay-Nonce header/ },
    check: (requests) => expect(requests.filter((r) => r.method === 'POST')).toEqual([]),
  },
  {
    name: 'badNonce on the first 5 signed requests',
    rules: [{ name: 'badNonce burst', kinds: SIGNED_KINDS, first: 5, fault: { type: 'bad-nonce' } }],
    runs: 2,
    outcome: 'success',
    check: (requests) => expect(requests.filter((r) => r.faultType === 'bad-nonce')).toHaveLength(5),
  },
  {
    name: 'badNonce on every 2nd signed request',
    rules: [{ name: 'badNonce alternate', kinds: SIGNED_KINDS, every: 2, fault: { type: 'bad-nonce' } }],
    runs: 2,
    outcome: 'success',
  },
  {
    name: 'badNonce on newOrder, always',
    rules: [{ name: 'badNonce newOrder', kinds: ['newOrder'], fault: { type: 'bad-nonce' } }],
    runs: 2,
    outcome: 'failure',
    failure: { exitCode: ExitCaRefused, names: /badNonce, HTTP 400/ },
    check: (requests) => {
      // One attempt plus the client's re-signed retries, then it gives up.
      expect(count(requests, 'newOrder')).toBe(DEFAULT_RETRY_POLICY.badNonceRetries + 1);
      expect(count(requests, 'newOrder', (r) => r.forwarded)).toBe(0);
    },
  },
];

describe('acmecli issue through the fault proxy', () => {
  for (const scenario of scenarios) {
    it(scenario.name, () => runScenario(scenario), (scenario.runs + 1) * RUN_KILLED_AFTER_MS);
  }

  it(
    'a stalled newOrder stops the CLI after its 30 s response timeout, without a second newOrder',
    async () => {
      const row: Row = {
        scenario: 'newOrder stalls (CLI, fixed 30 s timeout)',
        level: 'cli',
        runs: 1,
        successes: 0,
        cleanFailures: 0,
        other: 0,
        worstMs: 0,
        laterRunOk: false,
      };
      rows.push(row);
      const result = await (stalledCliRun as Promise<CliResult>);
      row.worstMs = result.durationMs;
      const requests = stallProxy.requestsOf('stall#0');
      expect(result.exitCode, describeRun(result)).toBe(ExitNetwork);
      // The 30 s response timer ended it (not a kill, nor another fault).
      expect(result.stderr).toMatch(/order-plz: the server stopped answering \(no response within 30 s\)/);
      expect(count(requests, 'newOrder')).toBe(1);
      row.cleanFailures = 1;
      messages.set(row.scenario, errorLine(result.stderr));

      stallProxy.setRules([]);
      stallProxy.beginRun('stall#clean');
      const clean = await runCli(
        [
          ...serverArgs(stallProxy),
          'issue',
          '-d',
          'stall.faults.example.test',
          '--standalone',
          '--http-port',
          String(pebble.httpPort),
          '--force',
        ],
        { timeoutMs: RUN_KILLED_AFTER_MS },
      );
      expect(clean.exitCode, describeRun(clean)).toBe(ExitOk);
      row.laterRunOk = true;
      expectNoReplays();
    },
    3 * DEFAULT_RESPONSE_TIMEOUT_MS,
  );
});

// ---------------------------------------------------------------------------------------------
// Stalls at the AcmeClient level, with a 1 s response timeout

describe('stalls injected by the fault proxy, AcmeClient with a 1 s response timeout (the CLI cannot shorten its 30 s)', () => {
  const RESPONSE_TIMEOUT_MS = 1_000;

  async function issueWithClient(
    label: string,
    rules: FaultRule[],
    domain: string,
  ): Promise<{ error?: unknown; ms: number; requests: ProxiedRequest[] }> {
    const transport = new Transport({
      caBundlePem: proxy.caPem,
      responseTimeoutMs: RESPONSE_TIMEOUT_MS,
      userAgent: 'acmecli-fault-test',
    });
    const solver = await startTestHttpSolver(pebble.httpPort);
    try {
      proxy.setRules([]);
      proxy.beginRun(`${label}#account`);
      const accountKey = await generateKey('ec256');
      const { url: accountUrl } = await new AcmeClient({
        directoryUrl: proxy.directoryUrl,
        accountKey,
        transport,
      }).newAccount({ termsOfServiceAgreed: true });
      // A fresh client for the issuance: it starts from the directory, as a new run would.
      const client = new AcmeClient({ directoryUrl: proxy.directoryUrl, accountKey, accountUrl, transport });
      proxy.setRules(rules);
      proxy.beginRun(label);
      const began = Date.now();
      try {
        const result = await obtainCertificate(client, {
          identifiers: [{ type: 'dns', value: domain }],
          certificateKey: await generateKey('ec256'),
          chooseSolver: chooseOnly('http-01', solver),
        });
        expect(new X509Certificate(result.certificatePem).subjectAltName).toContain(`DNS:${domain}`);
        return { ms: Date.now() - began, requests: proxy.requestsOf(label) };
      } catch (error) {
        return { error, ms: Date.now() - began, requests: proxy.requestsOf(label) };
      }
    } finally {
      // The stalled connections are the proxy's; the client's side goes with the transport.
      await transport.close().catch(() => undefined);
      await solver.close();
    }
  }

  function record(
    scenario: string,
    outcomes: Array<{ error?: unknown; ms: number }>,
    cleanFailure: (error: unknown) => boolean,
  ): Row {
    const row: Row = {
      scenario,
      level: 'client',
      runs: outcomes.length,
      successes: outcomes.filter((o) => o.error === undefined).length,
      cleanFailures: outcomes.filter((o) => o.error !== undefined && cleanFailure(o.error)).length,
      other: 0,
      worstMs: Math.max(...outcomes.map((o) => o.ms)),
      laterRunOk: false,
    };
    row.other = row.runs - row.successes - row.cleanFailures;
    rows.push(row);
    return row;
  }

  it('stalled reads (no headers; headers but half a body) are retried and the issuance completes', async () => {
    const rules: FaultRule[] = [
      { name: 'stall authz', kinds: ['authz'], first: 1, fault: { type: 'stall', stage: 'headers' } },
      { name: 'stall certificate body', kinds: ['certificate'], first: 1, fault: { type: 'stall', stage: 'body' } },
    ];
    const outcomes = [];
    for (let i = 0; i < 2; i++) {
      const outcome = await issueWithClient(`stall-reads#${i}`, rules, 'stall-reads.faults.example.test');
      expect(outcome.error, messageOf(outcome.error)).toBeUndefined();
      // Each read stalled once (only the client's response timeout ends a stall), then was repeated.
      expect(count(outcome.requests, 'authz', (r) => r.faultType === 'stall')).toBe(1);
      expect(count(outcome.requests, 'authz')).toBeGreaterThanOrEqual(2);
      expect(count(outcome.requests, 'certificate', (r) => r.faultType === 'stall')).toBe(1);
      expect(count(outcome.requests, 'certificate')).toBe(2);
      expectNoRepeatedCreation(outcome.requests, `stall-reads#${i}`);
      outcomes.push(outcome);
    }
    const clean = await issueWithClient('stall-reads#clean', [], 'stall-reads.faults.example.test');
    expect(clean.error, messageOf(clean.error)).toBeUndefined();
    record('reads stall once (client, 1 s timeout)', outcomes, () => false).laterRunOk = true;
  });

  it('a stalled newOrder or finalize fails after one timeout and is not sent again', async () => {
    for (const kind of ['newOrder', 'finalize'] as const) {
      const rules: FaultRule[] = [{ name: `stall ${kind}`, kinds: [kind], fault: { type: 'stall', stage: 'headers' } }];
      const outcomes = [];
      for (let i = 0; i < 2; i++) {
        const outcome = await issueWithClient(
          `stall-${kind}#${i}`,
          rules,
          `stall-${kind.toLowerCase()}.faults.example.test`,
        );
        expect(outcome.error).toBeInstanceOf(NetworkError);
        // The client's own 1 s timer ended it.
        expect(messageOf(outcome.error)).toContain(
          `the server stopped answering (no response within ${RESPONSE_TIMEOUT_MS / 1000} s)`,
        );
        expect(count(outcome.requests, kind)).toBe(1);
        expectNoRepeatedCreation(outcome.requests, `stall-${kind}#${i}`);
        outcomes.push(outcome);
      }
      const clean = await issueWithClient(`stall-${kind}#clean`, [], `stall-${kind.toLowerCase()}.faults.example.test`);
      expect(clean.error, messageOf(clean.error)).toBeUndefined();
      record(`${kind} stalls (client, 1 s timeout)`, outcomes, (error) => error instanceof NetworkError).laterRunOk =
        true;
      messages.set(`${kind} stalls (client, 1 s timeout)`, messageOf(outcomes[0]?.error));
    }
  });

  it('a CA that stalls every request is given up on after the bounded retries', async () => {
    const rules: FaultRule[] = [{ name: 'stall all', kinds: 'any', fault: { type: 'stall', stage: 'headers' } }];
    const outcomes = [];
    for (let i = 0; i < 2; i++) {
      const outcome = await issueWithClient(`stall-all#${i}`, rules, 'stall-all.faults.example.test');
      expect(outcome.error).toBeInstanceOf(NetworkError);
      expect(messageOf(outcome.error)).toMatch(/GET \S+\/dir: the server stopped answering/);
      // The directory read: one attempt and the policy's retries, each a timeout, then it gives up.
      expect(count(outcome.requests, 'directory')).toBe(DEFAULT_RETRY_POLICY.transientRetries + 1);
      outcomes.push(outcome);
    }
    const clean = await issueWithClient('stall-all#clean', [], 'stall-all.faults.example.test');
    expect(clean.error, messageOf(clean.error)).toBeUndefined();
    record(
      'every request stalls (client, 1 s timeout)',
      outcomes,
      (error) => error instanceof NetworkError,
    ).laterRunOk = true;
    messages.set('every request stalls (client, 1 s timeout)', messageOf(outcomes[0]?.error));
    expectNoReplays();
  });
});
