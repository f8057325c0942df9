/**
 * Soak: many consecutive issuances through the built CLI against Pebble with 30 % nonce
 * rejection and authorization reuse on, then `renew --force` over every lineage. The CLI talks to
 * Pebble through the fault proxy with no faults, as a recorder: it counts Pebble's badNonce
 * answers and checks that no signed body or nonce was ever sent twice.
 *
 * Memory, two ways: the peak RSS of renew over all lineages against renew over a few (what a
 * user sees; it includes garbage V8 has not collected yet, so it grows somewhat with the run's
 * length even without a leak), and RSS over time of a renew with a full collection every 500 ms
 * (what is still referenced: flat unless something accumulates per certificate). The peak bound
 * is loose on purpose; it catches memory V8 does not see, such as the per-connection TLS contexts
 * that once made renew over 200 certificates grow without bound.
 *
 *   npm run soak                                  200 issuances, renew over 20 then over 200
 *   node scripts/run-ts.mjs scripts/soak.ts 50 10 50 issuances, renew over 10 then over 50
 *
 * test/reliability/soak.test.ts runs a shortened version of the same (runSoak) in the test suite.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliCommand, REPO_ROOT, runCli, type CliResult } from '../test/helpers/cli.js';
import { startFaultProxy, type ProxiedRequest } from '../test/helpers/fault-proxy.js';
import { startPebble } from '../test/helpers/pebble.js';

export interface SoakOptions {
  /** Consecutive issuances, each a lineage of its own. */
  issuances: number;
  /** The first renew covers this many lineages; the second covers all of them. */
  smallRenew: number;
  /** PEBBLE_WFE_NONCEREJECT, percent. */
  nonceRejectPercent?: number;
  /** PEBBLE_AUTHZREUSE, percent. */
  authzReusePercent?: number;
  /**
   * Also renew over all lineages with a full garbage collection every 500 ms, so RSS follows the
   * memory still referenced: flat unless something leaks (the plain run's peak also includes
   * garbage V8 has not got round to collecting).
   */
  liveMemory?: boolean;
  /** Progress lines; silent when omitted. */
  log?: (line: string) => void;
}

export interface RenewFigures {
  lineages: number;
  renewed: number;
  exitCode: number | null;
  ms: number;
  /** Peak resident set size of the renew process (kB). */
  peakRssKb: number;
  /** How the peak was measured. */
  peakSource: 'getrusage (/usr/bin/time)' | 'VmHWM (/proc)';
  /** Resident set size sampled every SAMPLE_INTERVAL_MS (kB), for the shape over time. */
  rssSamplesKb: number[];
}

export interface SoakFigures {
  issuances: number;
  succeeded: number;
  failures: Array<{ certName: string; exitCode: number | null; stderr: string }>;
  issueWorstMs: number;
  issueMedianMs: number;
  issueTotalMs: number;
  /** Signed requests Pebble answered badNonce (its 30 % rejection), all re-signed by the client. */
  badNonceAnswers: number;
  signedRequests: number;
  authorizationsReused: number;
  /** Signed bodies or nonces sent more than once (must be 0). */
  replayedBodies: number;
  reusedNonces: number;
  renewSmall: RenewFigures;
  renewAll: RenewFigures;
  /** renewAll.peakRssKb / renewSmall.peakRssKb. */
  peakRssRatio: number;
  /** With options.liveMemory: renew over all lineages with forced garbage collections. */
  renewAllLive?: RenewFigures;
  /**
   * RSS of the forced-GC run late (last fifth of the samples) against early (second fifth, after
   * start-up): about 1 when nothing accumulates from one certificate to the next.
   */
  liveRssGrowth?: number;
}

const SAMPLE_INTERVAL_MS = 100;
/** Any single CLI run of the soak; generous, so a hang shows as a failure rather than forever. */
const RUN_TIMEOUT_MS = 120_000;
const TIME_BINARY = '/usr/bin/time';

/** Resident set size and its high-water mark (kB) from /proc/<pid>/status; undefined once gone. */
function memoryOf(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (!rss || !hwm) return undefined;
    return { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]) };
  } catch {
    return undefined;
  }
}

/** The process whose parent is `pid` (the CLI under /usr/bin/time). */
function childOf(pid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) return Number(entry);
    } catch {
      // Gone between readdir and read.
    }
  }
  return undefined;
}

/**
 * Runs the CLI like runCli, and measures its peak RSS: getrusage's ru_maxrss through GNU time when
 * /usr/bin/time exists (exact), else the last VmHWM read while it ran. RSS is sampled for the shape.
 */
export async function runCliMeasured(
  args: readonly string[],
  workDir: string,
  extraEnv: Record<string, string> = {},
): Promise<CliResult & { peakRssKb: number; peakSource: RenewFigures['peakSource']; rssSamplesKb: number[] }> {
  const { file, prefix } = cliCommand();
  const useTime = existsSync(TIME_BINARY);
  const timeOutput = join(workDir, `time-${Date.now()}.txt`);
  const command = useTime ? TIME_BINARY : file;
  const commandArgs = useTime ? ['-f', '%M', '-o', timeOutput, file, ...prefix, ...args] : [...prefix, ...args];
  const started = Date.now();
  const child = spawn(command, commandArgs, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, signal) => resolve({ exitCode, signal }));
  });
  let done = false;
  void closed.finally(() => (done = true));
  const killer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);

  const samples: number[] = [];
  let lastHwmKb = 0;
  let target: number | undefined = useTime ? undefined : child.pid;
  // Bounded: the run itself is killed after RUN_TIMEOUT_MS, which ends `done`.
  while (!done) {
    if (target === undefined && child.pid !== undefined) target = childOf(child.pid);
    const memory = target === undefined ? undefined : memoryOf(target);
    if (memory) {
      samples.push(memory.rssKb);
      lastHwmKb = Math.max(lastHwmKb, memory.hwmKb);
    }
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS))]);
  }
  const { exitCode, signal } = await closed;
  clearTimeout(killer);
  let peakRssKb = lastHwmKb;
  let peakSource: RenewFigures['peakSource'] = 'VmHWM (/proc)';
  if (useTime) {
    const text = await readFile(timeOutput, 'utf8').catch(() => '');
    // GNU time writes "Command exited with non-zero status N" before the figure on failures.
    const figure = /(\d+)\s*$/.exec(text.trim());
    if (figure) {
      peakRssKb = Number(figure[1]);
      peakSource = 'getrusage (/usr/bin/time)';
    }
    await rm(timeOutput, { force: true });
  }
  return {
    exitCode,
    signal,
    stdout,
    stderr,
    durationMs: Date.now() - started,
    peakRssKb,
    peakSource,
    rssSamplesKb: samples,
  };
}

/** Median of the last fifth of `samples` over the median of the second fifth (the first is start-up). */
export function lateOverEarly(samples: readonly number[]): number {
  const fifth = Math.floor(samples.length / 5);
  if (fifth === 0) return Number.NaN;
  return median(samples.slice(-fifth)) / median(samples.slice(fifth, 2 * fifth));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function jwsNonce(request: ProxiedRequest): string | undefined {
  try {
    const jws = JSON.parse(request.body.toString('utf8')) as { protected?: string };
    return (JSON.parse(Buffer.from(jws.protected ?? '', 'base64url').toString('utf8')) as { nonce?: string }).nonce;
  } catch {
    return undefined;
  }
}

function renewedCount(result: CliResult): number {
  try {
    const doc = JSON.parse(result.stdout) as { result?: { items?: Array<{ outcome?: string }> } };
    return (doc.result?.items ?? []).filter((item) => item.outcome === 'renewed').length;
  } catch {
    return 0;
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakFigures> {
  const log = options.log ?? (() => {});
  const pebble = await startPebble({
    env: {
      PEBBLE_WFE_NONCEREJECT: String(options.nonceRejectPercent ?? 30),
      PEBBLE_AUTHZREUSE: String(options.authzReusePercent ?? 50),
    },
  });
  const workDir = await mkdtemp(join(tmpdir(), 'acmecli-soak-'));
  let proxy: Awaited<ReturnType<typeof startFaultProxy>> | undefined;
  try {
    proxy = await startFaultProxy({
      upstreamOrigin: new URL(pebble.directoryUrl).origin,
      upstreamCaPem: pebble.caBundlePem,
    });
    const caBundle = join(workDir, 'proxy-ca.pem');
    await writeFile(caBundle, proxy.caPem);
    const configDir = join(workDir, 'config');
    const common = ['--config-dir', configDir, '--server', proxy.directoryUrl, '--ca-bundle', caBundle];
    const registered = await runCli([...common, 'register', '--agree-tos'], { timeoutMs: RUN_TIMEOUT_MS });
    if (registered.exitCode !== 0)
      throw new Error(`register failed (exit ${registered.exitCode}): ${registered.stderr}`);
    log(
      `Pebble ${pebble.version} with PEBBLE_WFE_NONCEREJECT=${options.nonceRejectPercent ?? 30}, PEBBLE_AUTHZREUSE=${options.authzReusePercent ?? 50}; config dir ${configDir}`,
    );

    // Every certificate also names shared.soak.example.test, so Pebble can hand back its earlier,
    // valid authorization (authorization reuse) in most orders.
    const certNames: string[] = [];
    const durations: number[] = [];
    const failures: SoakFigures['failures'] = [];
    let authorizationsReused = 0;
    for (let i = 0; i < options.issuances; i++) {
      const certName = `soak-${i}.example.test`;
      certNames.push(certName);
      const result = await runCli(
        [
          ...common,
          '--json',
          'issue',
          '-d',
          certName,
          '-d',
          'shared.soak.example.test',
          '--standalone',
          '--http-port',
          String(pebble.httpPort),
        ],
        { timeoutMs: RUN_TIMEOUT_MS },
      );
      durations.push(result.durationMs);
      if (result.exitCode === 0) {
        try {
          authorizationsReused += Number(
            (JSON.parse(result.stdout) as { result?: { authorizationsReused?: number } }).result
              ?.authorizationsReused ?? 0,
          );
        } catch {
          // Counted as a success all the same: the exit code says it issued.
        }
      } else {
        failures.push({
          certName,
          exitCode: result.exitCode,
          stderr: result.stderr.trim().split('\n').slice(-3).join(' | '),
        });
      }
      if ((i + 1) % 10 === 0 || i + 1 === options.issuances) {
        log(
          `issued ${i + 1 - failures.length}/${i + 1} (worst ${Math.max(...durations)} ms, ${failures.length} failed)`,
        );
      }
    }

    const small = certNames.slice(0, options.smallRenew);
    const renew = async (
      names: readonly string[] | 'all',
      extraEnv: Record<string, string> = {},
    ): Promise<RenewFigures> => {
      const selection = names === 'all' ? [] : names.flatMap((name) => ['--cert-name', name]);
      const result = await runCliMeasured([...common, '--json', 'renew', '--force', ...selection], workDir, extraEnv);
      const lineages = names === 'all' ? certNames.length : names.length;
      const figures: RenewFigures = {
        lineages,
        renewed: renewedCount(result),
        exitCode: result.exitCode,
        ms: result.durationMs,
        peakRssKb: result.peakRssKb,
        peakSource: result.peakSource,
        rssSamplesKb: result.rssSamplesKb,
      };
      const mode = extraEnv.NODE_OPTIONS ? ' (forced GC)' : '';
      log(
        `renew --force over ${lineages}${mode}: exit ${result.exitCode}, ${figures.renewed} renewed in ${result.durationMs} ms, peak RSS ${result.peakRssKb} kB (${result.peakSource})`,
      );
      if (result.exitCode !== 0) log(result.stderr.trim().split('\n').slice(-5).join('\n'));
      return figures;
    };
    const renewSmall = await renew(small);
    const renewAll = await renew('all');
    let renewAllLive: RenewFigures | undefined;
    if (options.liveMemory) {
      const preload = join(workDir, 'force-gc.cjs');
      // unref: the timer must not keep a finished renew alive.
      await writeFile(preload, 'const timer = setInterval(() => globalThis.gc?.(), 500);\ntimer.unref();\n');
      renewAllLive = await renew('all', { NODE_OPTIONS: `--expose-gc --require ${preload}` });
    }

    const signed = proxy.requests.filter((r) => r.method === 'POST');
    const bodies = new Set<string>();
    const nonces = new Set<string>();
    let replayedBodies = 0;
    let reusedNonces = 0;
    for (const request of signed) {
      const body = request.body.toString('base64');
      if (bodies.has(body)) replayedBodies++;
      bodies.add(body);
      const nonce = jwsNonce(request);
      if (nonce === undefined || nonces.has(nonce)) reusedNonces++;
      else nonces.add(nonce);
    }
    return {
      issuances: options.issuances,
      succeeded: options.issuances - failures.length,
      failures,
      issueWorstMs: Math.max(0, ...durations),
      issueMedianMs: median(durations),
      issueTotalMs: durations.reduce((a, b) => a + b, 0),
      badNonceAnswers: signed.filter((r) => r.upstreamProblem === 'badNonce').length,
      signedRequests: signed.length,
      authorizationsReused,
      replayedBodies,
      reusedNonces,
      renewSmall,
      renewAll,
      peakRssRatio: renewSmall.peakRssKb > 0 ? renewAll.peakRssKb / renewSmall.peakRssKb : Number.NaN,
      ...(renewAllLive ? { renewAllLive, liveRssGrowth: lateOverEarly(renewAllLive.rssSamplesKb) } : {}),
    };
  } finally {
    await proxy?.stop();
    await pebble.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** A few points of an RSS series (kB), for a one-line picture of its shape. */
export function describeSamples(samples: readonly number[], points = 10): string {
  if (samples.length === 0) return '(no samples)';
  const picks: number[] = [];
  for (let i = 0; i < points; i++) {
    picks.push(samples[Math.min(samples.length - 1, Math.floor(((i + 1) * samples.length) / points) - 1)] as number);
  }
  return picks.map((kb) => `${Math.round(kb / 1024)}`).join(' ') + ' MB';
}

export function formatSoak(figures: SoakFigures): string {
  const renewLine = (name: string, r: RenewFigures): string =>
    `${name.padEnd(22)} ${String(r.lineages).padStart(4)} lineages, ${String(r.renewed).padStart(4)} renewed, exit ${r.exitCode}, ` +
    `${(r.ms / 1000).toFixed(1)} s, peak RSS ${(r.peakRssKb / 1024).toFixed(1)} MB; RSS over time: ${describeSamples(r.rssSamplesKb)}`;
  return [
    `issuances:             ${figures.succeeded}/${figures.issuances} succeeded (${figures.failures.length} failed)`,
    `issue wall time:       median ${figures.issueMedianMs} ms, worst ${figures.issueWorstMs} ms, total ${(figures.issueTotalMs / 1000).toFixed(1)} s`,
    `signed requests:       ${figures.signedRequests}, of which Pebble answered badNonce ${figures.badNonceAnswers} (${((100 * figures.badNonceAnswers) / Math.max(1, figures.signedRequests)).toFixed(1)} %)`,
    `replays:               ${figures.replayedBodies} signed bodies and ${figures.reusedNonces} nonces sent twice`,
    `authorizations reused: ${figures.authorizationsReused}`,
    renewLine('renew --force (small)', figures.renewSmall),
    renewLine('renew --force (all)', figures.renewAll),
    `peak RSS ratio all/small: ${figures.peakRssRatio.toFixed(2)}`,
    ...(figures.renewAllLive
      ? [
          renewLine('renew (all, forced GC)', figures.renewAllLive),
          `live RSS late/early (forced GC): ${figures.liveRssGrowth?.toFixed(2)}`,
        ]
      : []),
    ...figures.failures.map((f) => `FAILED ${f.certName}: exit ${f.exitCode}: ${f.stderr}`),
  ].join('\n');
}

/** Live memory (forced GC) late in the renew against early: flat is about 1.0. */
const MAX_LIVE_RSS_GROWTH = 1.2;
/**
 * Peak RSS of renew over all lineages against over SMALL_RENEW (default 200 against 20): about 1.9
 * with V8's lazy collection on a 24 GB machine; 3.3 with the TLS-context leak.
 */
const MAX_PEAK_RSS_RATIO = 2.5;

async function main(): Promise<void> {
  const issuances = Number(process.argv[2] ?? 200);
  const smallRenew = Number(process.argv[3] ?? 20);
  if (
    !Number.isInteger(issuances) ||
    issuances < 1 ||
    !Number.isInteger(smallRenew) ||
    smallRenew < 1 ||
    smallRenew > issuances
  ) {
    console.error('usage: node scripts/run-ts.mjs scripts/soak.ts [ISSUANCES=200] [SMALL_RENEW=20]');
    process.exit(2);
  }
  // The soak runs what users run: the bundle as built now.
  const build = await runCommandInherit(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')]);
  if (build !== 0) process.exit(build);
  const started = Date.now();
  const figures = await runSoak({ issuances, smallRenew, liveMemory: true, log: (line) => console.log(line) });
  console.log(`\nsoak finished in ${((Date.now() - started) / 1000).toFixed(0)} s\n${formatSoak(figures)}`);
  const checks: Array<[string, boolean]> = [
    ['every issuance succeeded', figures.succeeded === figures.issuances],
    ['no signed body or nonce sent twice', figures.replayedBodies === 0 && figures.reusedNonces === 0],
    ['Pebble rejected nonces (the rejection was on)', figures.badNonceAnswers > 0],
    [
      'every renew renewed every lineage',
      [figures.renewSmall, figures.renewAll, figures.renewAllLive].every(
        (r) => r !== undefined && r.exitCode === 0 && r.renewed === r.lineages,
      ),
    ],
    [
      `live RSS late/early < ${MAX_LIVE_RSS_GROWTH}`,
      (figures.liveRssGrowth ?? Number.POSITIVE_INFINITY) < MAX_LIVE_RSS_GROWTH,
    ],
    [`peak RSS ratio all/small < ${MAX_PEAK_RSS_RATIO}`, figures.peakRssRatio < MAX_PEAK_RSS_RATIO],
  ];
  for (const [what, passed] of checks) console.log(`${passed ? 'ok  ' : 'FAIL'} ${what}`);
  const ok = checks.every(([, passed]) => passed);
  console.log(ok ? 'SOAK OK' : 'SOAK FAILED');
  process.exitCode = ok ? 0 : 1;
}

function runCommandInherit(command: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

// Run only as the script itself (scripts/run-ts.mjs bundles it to .cache/run-ts/soak.mjs and puts
// that in argv[1]); not when the test imports it, nor when another script bundles it in.
const entry = process.argv[1];
if (entry !== undefined && basename(entry) === 'soak.mjs' && import.meta.url === pathToFileURL(entry).href) {
  await main();
}
