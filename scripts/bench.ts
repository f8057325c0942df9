/**
 * acmecli side by side with certbot, lego and uacme, in one run, against one local Pebble:
 *
 *   npm run bench [-- OPTIONS]
 *
 * Workloads (each client registered once and warmed up with one issuance before timing):
 *   1. issue a certificate for 1 name (http-01 with the client's own standalone server, P-256);
 *   2. issue one certificate with 50 names;
 *   3. renew when nothing is due with 1, 100 and 1,000 certificates on disk;
 *   4. start-up: --version and --help (and bare `node -e 0` as the reference);
 *   5. peak resident memory (ru_maxrss from wait4, what GNU time %M prints) of 1, 2 and 4;
 *      CPU time (user+sys) too, which other load on the machine disturbs far less than wall time.
 * Prints one markdown table of medians (min–max) with acmecli ÷ each peer, the issue's time
 * targets as met / missed, and the memory guard: an issuance (binary and `node dist`) peaks at no
 * more than PEAK_RSS_GUARD_MIB, PASS or FAIL; any FAIL makes the run exit 1. --update-readme
 * writes the report into README.md between <!-- bench:start --> and <!-- bench:end -->.
 *
 * Options:
 *   --runs N             runs of the fast workloads (default 5; start-up uses 2N)
 *   --slow-runs N        runs of issuance with 50 names (default 3)
 *   --only LIST          workloads: issue1,issue50,renew1,renew100,renew1000,version,help
 *   --clients LIST       acmecli-bin,acmecli-node,certbot,lego,uacme
 *   --pebble bookworm|sid  Pebble to measure against (default bookworm: Debian's 2.4, as in the issue)
 *   --binary PATH        the single binary (default: $ACMECLI_BIN, else release/acmecli-linux-x64*)
 *   --nice N             priority of the measured commands and of Pebble (default -10 as root,
 *                        so other work on the machine disturbs the timings less; 0 = unchanged)
 *   --no-install         do not run scripts/install-peers.sh for missing peers
 *   --update-readme      rewrite README.md's performance section between the markers
 *   --keep               keep the temporary directory (configs, fixtures) for inspection
 *
 * Bounded: every command has a timeout (a peer that hangs shows "timeout"), and each cell a time
 * budget after which its remaining runs are dropped (the cell then says n=…).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { startPebble, type PebbleHandle } from '../test/helpers/pebble.js';
import {
  acmecliClient,
  certbotClient,
  legoClient,
  uacmeClient,
  type BenchContext,
  type Client,
  type ClientKey,
} from './bench/clients.js';
import { GNU_TIME, killRunning, measure, probeKind, type Command } from './bench/measure.js';
import { describeMachine } from './bench/machine.js';
import { BUNDLE, LEGO, NODE, REPO_ROOT } from './bench/paths.js';
import {
  evaluateRssGuard,
  evaluateTargets,
  median,
  PEAK_RSS_GUARD_MIB,
  README_END,
  README_START,
  renderGuard,
  renderTable,
  renderTargets,
  updateReadme,
  type Cell,
  type Results,
  type WorkloadId,
} from './bench/report.js';

const ALL_CLIENTS: readonly ClientKey[] = ['acmecli-bin', 'acmecli-node', 'certbot', 'lego', 'uacme'];
const ALL_WORKLOADS: readonly WorkloadId[] = [
  'version',
  'help',
  'issue1',
  'issue50',
  'renew1',
  'renew100',
  'renew1000',
];

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  runs: number;
  slowRuns: number;
  only: Set<WorkloadId>;
  clients: Set<ClientKey>;
  pebble: 'bookworm' | 'sid';
  binary?: string;
  nice: number;
  install: boolean;
  updateReadme: boolean;
  keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    runs: 5,
    slowRuns: 3,
    only: new Set(ALL_WORKLOADS),
    clients: new Set(ALL_CLIENTS),
    pebble: 'bookworm',
    // Other work on the machine (test suites) skews wall times; as root, the measured commands and
    // the CA run at a higher priority than it. --nice 0 turns that off.
    nice: process.getuid?.() === 0 ? -10 : 0,
    install: true,
    updateReadme: false,
    keep: false,
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) usage(`${flag} needs a value`);
    return v;
  };
  const list = <T extends string>(text: string, allowed: readonly T[], flag: string): Set<T> => {
    const items = text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of items)
      if (!allowed.includes(item as T)) usage(`${flag}: unknown "${item}" (one of ${allowed.join(', ')})`);
    return new Set(items as T[]);
  };
  const count = (text: string, flag: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > 100) usage(`${flag} must be a whole number from 1 to 100`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    switch (arg) {
      case '--runs':
        options.runs = count(value(i++, arg), arg);
        break;
      case '--slow-runs':
        options.slowRuns = count(value(i++, arg), arg);
        break;
      case '--only':
        options.only = list(value(i++, arg), ALL_WORKLOADS, arg);
        break;
      case '--clients':
        options.clients = list(value(i++, arg), ALL_CLIENTS, arg);
        break;
      case '--pebble': {
        const v = value(i++, arg);
        if (v !== 'bookworm' && v !== 'sid') usage('--pebble is bookworm or sid');
        options.pebble = v;
        break;
      }
      case '--binary':
        options.binary = value(i++, arg);
        break;
      case '--nice': {
        const n = Number(value(i++, arg));
        if (!Number.isInteger(n) || n < -20 || n > 19) usage('--nice is a whole number from -20 to 19');
        if (n < 0 && process.getuid?.() !== 0) usage('a negative --nice needs root');
        options.nice = n;
        break;
      }
      case '--no-install':
        options.install = false;
        break;
      case '--update-readme':
        options.updateReadme = true;
        break;
      case '--keep':
        options.keep = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return process.exit(0);
      default:
        usage(`unknown option ${arg}`);
    }
  }
  return options;
}

const HELP = `usage: npm run bench [-- --runs N] [--slow-runs N] [--only W,...] [--clients C,...]
                 [--pebble bookworm|sid] [--binary PATH] [--nice N] [--no-install] [--update-readme] [--keep]
workloads: ${ALL_WORKLOADS.join(', ')}
clients:   ${ALL_CLIENTS.join(', ')}
`;

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${HELP}`);
  process.exit(2);
}

const log = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

// ---------------------------------------------------------------------------------------------
// Set-up helpers

/** The single binary: --binary, $ACMECLI_BIN, or release/acmecli-linux-x64* (no archives). */
function findBinary(explicit: string | undefined): { file: string; prefix: string[] } | { unavailable: string } {
  const candidate = explicit ?? process.env.ACMECLI_BIN;
  if (candidate) {
    if (!existsSync(candidate)) return { unavailable: `n/a (${candidate} missing)` };
    return { file: candidate, prefix: [] };
  }
  const dir = join(REPO_ROOT, 'release');
  if (existsSync(dir)) {
    const found = readdirSync(dir)
      .filter(
        (name) =>
          /^acmecli[-_.]?(linux[-_])?(x64|amd64|x86_64)?/.test(name) &&
          /linux/.test(name) &&
          /(x64|amd64|x86_64)/.test(name),
      )
      .filter((name) => !/\.(zip|tar|gz|xz|sha256|sig|asc|txt|json)$/i.test(name))
      .map((name) => join(dir, name))
      .filter((path) => statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0);
    if (found[0]) return { file: found[0], prefix: [] };
  }
  return { unavailable: 'n/a (not built)' };
}

function peersMissing(): string[] {
  const missing: string[] = [];
  if (!existsSync('/usr/bin/certbot')) missing.push('certbot');
  if (!existsSync('/usr/bin/uacme')) missing.push('uacme');
  if (!existsSync(LEGO)) missing.push('lego');
  if (!existsSync(GNU_TIME)) missing.push('time');
  return missing;
}

/** A free TCP port below the ephemeral range, so no outgoing connection on the box takes it mid-run. */
async function stablePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1');
}

// ---------------------------------------------------------------------------------------------
// The run

interface WorkloadPlan {
  id: WorkloadId;
  runs: number;
  timeoutMs: number;
  /** Stop starting new runs of a cell once it has used this much time. */
  budgetMs: number;
  command: (client: Client, run: number) => Command;
  /** Measured once per run inside the rotation, into results.node0 (bare `node -e 0`). */
  reference?: Command;
}

let interrupted = false;
/** `nice` value for everything measured and for Pebble (0: leave alone). */
let niceness = 0;

function nodeVersionText(): string {
  return `Node ${spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim() || '?'}`;
}

function withPriority(command: Command): Command {
  if (niceness === 0) return command;
  return { ...command, wrapper: ['/usr/bin/nice', '-n', String(niceness), ...(command.wrapper ?? [])] };
}

/** Every thread of every process in the group (Pebble's Go threads included). */
function reniceGroup(pgid: number, value: number): void {
  const result = spawnSync('renice', ['-n', String(value), '-g', String(pgid)], { encoding: 'utf8' });
  if (result.status !== 0) log(`renice of process group ${pgid} failed: ${result.stderr.trim()}`);
}

/** Resolves to whether the memory guard held (false: some issuance peaked above the limit). */
async function main(): Promise<boolean> {
  const options = parseOptions(process.argv.slice(2));
  if (options.updateReadme) {
    // Fail now, not after twenty minutes of measuring.
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    if (!readme.includes(README_START) || !readme.includes(README_END)) {
      throw new Error(
        `README.md has no ${README_START} … ${README_END} markers: add them around the body of "## Performance" first`,
      );
    }
  }
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build (npm run bench does)`);
  const missing = peersMissing();
  if (missing.length > 0 && options.install) {
    if (process.getuid?.() === 0) {
      log(`installing ${missing.join(', ')} (scripts/install-peers.sh)`);
      const install = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'install-peers.sh')], { stdio: ['ignore', 2, 2] });
      if (install.status !== 0) log('scripts/install-peers.sh failed; the missing peers show n/a');
    } else {
      log(`missing ${missing.join(', ')}: run scripts/install-peers.sh as root (they show n/a)`);
    }
  }
  if (probeKind() === 'gnu-time' && !existsSync(GNU_TIME)) {
    throw new Error(
      `neither python3 nor ${GNU_TIME} (Debian package "time") is installed: run scripts/install-peers.sh as root`,
    );
  }

  const loadAtStart = loadavg();
  const workDir = await mkdtemp(join(tmpdir(), 'acmecli-bench-'));
  const scratchDir = join(workDir, 'scratch');
  await mkdir(scratchDir);
  // A snapshot of the build: a `npm run build` elsewhere during the run cannot change what is measured.
  const distCopy = join(workDir, 'dist');
  await mkdir(distCopy);
  for (const name of readdirSync(dirname(BUNDLE)).filter((n) => statSync(join(dirname(BUNDLE), n)).isFile())) {
    await copyFile(join(dirname(BUNDLE), name), join(distCopy, name));
  }
  const bundle = join(distCopy, basename(BUNDLE));
  let pebble: PebbleHandle | undefined;
  const keep = options.keep;
  const clients: Client[] = [];
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    log('interrupted: stopping the running command and cleaning up');
    killRunning();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const httpPort = await stablePort();
    pebble = await startPebble({
      binary: options.pebble,
      httpPort,
      // The issue's conditions: no random validation sleep, no nonce rejection. Authorization
      // reuse off as well (every run uses fresh names anyway), so each run validates every name.
      env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    });
    niceness = options.nice;
    if (niceness !== 0) {
      reniceGroup(pebble.daemon.pid, niceness);
      try {
        reniceGroup(pebble.challtestsrv.daemon.pid, niceness);
      } catch {
        // No challtestsrv (not the case here).
      }
      // This process serves uacme's webroot.
      setPriority(niceness);
    }
    const pebbleText = `Pebble ${pebble.installation.packageVersion} (${pebble.installation.fromSidCache ? 'Debian sid' : 'Debian'}; PEBBLE_VA_NOSLEEP=1, nonce rejection off)`;
    log(`${pebbleText} at ${pebble.directoryUrl}, http-01 on port ${httpPort}; work dir ${workDir}`);
    const ctx: BenchContext = {
      directoryUrl: pebble.directoryUrl,
      caBundlePath: pebble.caBundlePath,
      httpPort,
      workDir,
      scratchDir,
      repoRoot: REPO_ROOT,
      nodePath: NODE,
    };
    const acmecliVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    const found = findBinary(options.binary);
    let binary = found;
    if ('file' in found) {
      // Snapshot, like dist: a rebuild of release/ during the run must not change what is measured.
      const copy = join(workDir, basename(found.file));
      await copyFile(found.file, copy);
      await chmod(copy, 0o755);
      binary = { file: copy, prefix: [] };
    }
    const all: Client[] = [
      acmecliClient(ctx, 'bin', binary, acmecliVersion),
      // As the npm-installed command runs: the launcher itself, whose #! line gives node its flags.
      acmecliClient(ctx, 'node', { file: bundle, prefix: [] }, acmecliVersion),
      certbotClient(ctx),
      legoClient(ctx, LEGO),
      uacmeClient(ctx),
    ];
    if ('file' in found) {
      if (statSync(found.file).mtimeMs < statSync(BUNDLE).mtimeMs)
        log(`note: ${found.file} is older than dist/acmecli.cjs (rebuild with npm run build:binaries?)`);
      log(`single binary: ${found.file}`);
    } else {
      log(`single binary: ${found.unavailable} (build it, or pass --binary PATH / ACMECLI_BIN)`);
    }
    for (const client of all) if (options.clients.has(client.key)) clients.push(client);

    // Registration + warm-up issuance, untimed.
    for (let i = 0; i < clients.length; i++) {
      const client = clients[i] as Client;
      if (client.unavailable || interrupted) continue;
      log(`setting up ${client.label} (register, one warm-up issuance)`);
      try {
        await client.setup();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`${client.label}: set-up failed; start-up is still measured, the CA workloads show n/a:\n${message}`);
        const exit = /failed \((exit [^)]*|timeout)\)/.exec(message)?.[1];
        client.setupFailed = `n/a (set-up failed${exit ? `: ${exit}` : ''})`;
      }
    }

    // A file written moments ago (the binary copied above, a peer just installed) sits in the page
    // cache as large folios, and every folio the program touches counts whole towards its RSS:
    // the same binary peaks well above its usual figure until those pages have been dropped.
    // Dropped here for every measured executable, so all clients start from the state a program
    // run from cron is in.
    const executables = [NODE, LEGO, '/usr/bin/uacme', '/usr/bin/python3', ...('file' in binary ? [binary.file] : [])];
    for (const file of executables) {
      if (!existsSync(file)) continue;
      spawnSync('dd', [`if=${realpathSync(file)}`, 'iflag=nocache', 'count=0', 'status=none']);
    }

    const results: Results = {};
    const usable = () => clients.filter((c) => !c.unavailable);
    const ready = () => usable().filter((c) => !c.setupFailed);
    const cellFor = (w: WorkloadId, key: ClientKey, planned: number): Cell => {
      const row = (results[w] ??= {});
      return (row[key] ??= { planned, samples: [] });
    };
    for (const client of clients) {
      if (client.unavailable) {
        for (const w of [...options.only, 'node0' as const]) cellFor(w, client.key, 0).unavailable = client.unavailable;
      } else if (client.setupFailed) {
        for (const w of options.only)
          if (w.startsWith('issue') || w.startsWith('renew'))
            cellFor(w, client.key, 0).unavailable = client.setupFailed;
      }
    }

    const runWorkload = async (plan: WorkloadPlan, participants: Client[]): Promise<void> => {
      const spent = new Map<ClientKey, number>();
      for (let run = 0; run < plan.runs && !interrupted; run++) {
        // Rotate the order each run, so no client always goes first (or right after a heavy one).
        const rotation: Array<Client | 'reference'> = [
          ...participants,
          ...(plan.reference ? (['reference'] as const) : []),
        ];
        const order = rotation.map((_, i) => rotation[(i + run) % rotation.length] as Client | 'reference');
        for (const client of order) {
          if (interrupted) break;
          if (client === 'reference') {
            const sample = await measure(withPriority(plan.reference as Command), {
              timeoutMs: plan.timeoutMs,
              scratchDir,
            });
            cellFor('node0', 'acmecli-node', plan.runs).samples.push(sample);
            log(`[${plan.id} ${run + 1}/${plan.runs}] bare node -e 0: ${sample.seconds.toFixed(3)} s`);
            continue;
          }
          const cell = cellFor(plan.id, client.key, plan.runs);
          if (cell.timedOutAfterS !== undefined || cell.budgetStopped) continue;
          if (run > 0 && (spent.get(client.key) ?? 0) >= plan.budgetMs) {
            cell.budgetStopped = true;
            continue;
          }
          let command: Command;
          try {
            command = plan.command(client, run);
          } catch (error) {
            cell.unavailable = `n/a (${error instanceof Error ? error.message : String(error)})`;
            continue;
          }
          const sample = await measure(withPriority(command), { timeoutMs: plan.timeoutMs, scratchDir });
          cell.samples.push(sample);
          spent.set(client.key, (spent.get(client.key) ?? 0) + sample.seconds * 1000);
          const rss = sample.maxRssKiB ? `, ${(sample.maxRssKiB / 1024).toFixed(0)} MiB` : '';
          if (sample.timedOut) {
            cell.timedOutAfterS = plan.timeoutMs / 1000;
            log(
              `[${plan.id} ${run + 1}/${plan.runs}] ${client.label}: TIMEOUT after ${plan.timeoutMs / 1000} s\n${sample.outputTail}`,
            );
          } else if (!sample.ok) {
            log(
              `[${plan.id} ${run + 1}/${plan.runs}] ${client.label}: FAILED (exit ${sample.exitCode ?? sample.signal}) after ${sample.seconds.toFixed(2)} s\n${sample.outputTail}`,
            );
          } else {
            log(`[${plan.id} ${run + 1}/${plan.runs}] ${client.label}: ${sample.seconds.toFixed(3)} s${rss}`);
          }
        }
      }
    };

    const startupRuns = options.runs * 2;
    const plans: WorkloadPlan[] = [];
    // The floor every Node program pays, measured in the same rotation as --version.
    const reference: Command = { file: NODE, args: ['-e', '0'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } };
    if (options.only.has('version'))
      plans.push({
        id: 'version',
        runs: startupRuns,
        timeoutMs: 30_000,
        budgetMs: 60_000,
        command: (c) => c.versionCmd(),
        reference,
      });
    if (options.only.has('help'))
      plans.push({ id: 'help', runs: startupRuns, timeoutMs: 30_000, budgetMs: 60_000, command: (c) => c.helpCmd() });
    const tag: Record<ClientKey, string> = {
      'acmecli-bin': 'ab',
      'acmecli-node': 'an',
      certbot: 'cb',
      lego: 'lg',
      uacme: 'ua',
    };
    if (options.only.has('issue1')) {
      plans.push({
        id: 'issue1',
        runs: options.runs,
        timeoutMs: 120_000,
        budgetMs: 150_000,
        command: (c, run) => c.issue([`one-r${run + 1}.${tag[c.key]}.bench.test`]),
      });
    }
    if (options.only.has('issue50')) {
      plans.push({
        id: 'issue50',
        runs: options.slowRuns,
        timeoutMs: 300_000,
        budgetMs: 300_000,
        command: (c, run) =>
          c.issue(
            Array.from(
              { length: 50 },
              (_, k) => `n${String(k + 1).padStart(2, '0')}.fifty-r${run + 1}.${tag[c.key]}.bench.test`,
            ),
          ),
      });
    }
    for (const plan of plans) {
      if (interrupted) break;
      await runWorkload(plan, plan.id === 'version' || plan.id === 'help' ? usable() : ready());
    }

    for (const count of [1, 100, 1000] as const) {
      const id = `renew${count}` as WorkloadId;
      if (!options.only.has(id) || interrupted) continue;
      const participants: Client[] = [];
      for (const client of ready()) {
        log(`[${id}] ${client.label}: writing ${count} certificate${count === 1 ? '' : 's'}`);
        try {
          await client.prepareRenew(count);
          participants.push(client);
        } catch (error) {
          log(
            `${client.label}: fixture failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
          );
          cellFor(id, client.key, options.runs).unavailable = 'n/a (fixture failed)';
        }
      }
      await runWorkload(
        { id, runs: options.runs, timeoutMs: 300_000, budgetMs: 120_000, command: (c) => c.renew(count) },
        participants,
      );
    }

    // The price of uacme's trust-bundle namespace, for the notes.
    let nsenterCost: number | undefined;
    const uacme = ready().find((c) => c.key === 'uacme');
    if (uacme && !interrupted && probeKind() === 'gnu-time') {
      // Only then is the wrapper inside the timed span (the wait4 probe starts inside it).
      const probe = uacme.issue(['probe.bench.test']);
      const wrapped: number[] = [];
      const bare: number[] = [];
      for (let i = 0; i < 10; i++) {
        wrapped.push(
          (
            await measure(
              { file: '/bin/true', args: [], env: {}, ...(probe.wrapper ? { wrapper: probe.wrapper } : {}) },
              { timeoutMs: 10_000, scratchDir },
            )
          ).seconds,
        );
        bare.push((await measure({ file: '/bin/true', args: [], env: {} }, { timeoutMs: 10_000, scratchDir })).seconds);
      }
      nsenterCost = median(wrapped) - median(bare);
    }

    // ------------------------------------------------------------------------------------------
    const revision = spawnSync('git', ['-C', REPO_ROOT, 'describe', '--always', '--dirty'], {
      encoding: 'utf8',
    }).stdout.trim();
    const machine = describeMachine({ nodePath: NODE, pebble: pebbleText, loadAtStart });
    const columns = clients.map((c) => ({ key: c.key, label: c.label, ...(c.version ? { version: c.version } : {}) }));
    const table = renderTable(results, columns);
    const binaryMeasured = usable().some((c) => c.key === 'acmecli-bin');
    const targets = renderTargets(evaluateTargets(results, binaryMeasured));
    const guard = evaluateRssGuard(results, binaryMeasured);
    const notes = [
      `${probeKind() === 'wait4' ? 'Wall time, CPU time (user+sys) and peak RSS (ru_maxrss, as GNU time %M) of each command from wait4(2)' : 'Wall time of the whole process, peak RSS from GNU time %M'}${niceness !== 0 ? `, measured commands and Pebble at nice ${niceness}` : ''}; ${options.runs} runs (start-up ${startupRuns}, 50 names ${options.slowRuns}), ` +
        'clients interleaved and rotated within each run; each client registered and issued one warm-up certificate first (lego registers on its first `run`). ' +
        'Fresh names every run, so every authorization is validated. `[n=…]` marks cells whose time budget cut runs short.',
      "uacme has no standalone server: Debian's hook script (`/usr/share/uacme/uacme.sh`, two `sh` runs per name) writes each token into a webroot served by a small server inside the benchmark (started before the timer, not counted), " +
        `and uacme runs through \`nsenter\` into a mount namespace that gives its libcurl-gnutls Pebble's CA${nsenterCost !== undefined ? ` (+${Math.max(0, nsenterCost * 1000).toFixed(1)} ms per run, measured)` : ' (entered before the timer starts)'}.`,
      `Single binary: ${'file' in found && 'file' in binary ? `\`${relative(REPO_ROOT, found.file) || found.file}\` (${(statSync(binary.file).size / 1024 ** 2).toFixed(0)} MiB)` : 'unavailable' in found ? found.unavailable : '?'}; \`node dist\`: \`dist/acmecli.cjs\` run as the npm-installed command runs it (its #! line starts node with the binaries' V8 options), on ${nodeVersionText()}.`,
      ...ready()
        .filter((c) => c.renewNote)
        .map((c) => `${c.label}: ${c.renewNote}.`),
      'Before timing, the page cache of every measured executable (node, the binary, lego, uacme, python3) is dropped (`dd iflag=nocache`): a file written moments before sits in the cache as large folios that count whole towards RSS (the same binary: 64 MiB fresh, 44 MiB after).',
      "Renewal fixtures: one real certificate per client, copied into N lineages in its own format (scripts/bench-fixtures.ts); uacme's copies are self-signed for their own names on the real key (uacme compares names before deciding).",
    ];
    const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const report = [
      `Measured ${when} by \`npm run bench\`${revision ? ` (acmecli ${acmecliVersion} at ${revision})` : ''} on ${machine}.`,
      '',
      table,
      '',
      'Targets (from the issue; ratios within this run):',
      '',
      targets,
      '',
      `Memory guard (peak RSS of an issuance, median, at most ${PEAK_RSS_GUARD_MIB} MiB):`,
      '',
      renderGuard(guard),
      '',
      ...notes.map((n) => `- ${n}`),
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    const outDir = join(REPO_ROOT, '.cache', 'bench');
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'last.md'), `${report}\n`);
    await writeFile(join(outDir, 'last.json'), `${JSON.stringify({ when, machine, results }, null, 2)}\n`);
    log(`saved .cache/bench/last.md and last.json`);
    if (options.updateReadme) {
      await updateReadme(join(REPO_ROOT, 'README.md'), report);
      log('README.md performance section updated');
    }
    const failed = guard.filter((g) => g.passed === false);
    if (failed.length > 0) log(`memory guard FAILED: ${failed.map((g) => g.text).join('; ')}`);
    return failed.length === 0;
  } finally {
    for (const client of clients) await client.close().catch(() => undefined);
    await pebble?.stop().catch((error: unknown) => log(`stopping Pebble: ${String(error)}`));
    if (keep) log(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

main().then(
  (guardHeld) => process.exit(interrupted ? 130 : guardHeld ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
