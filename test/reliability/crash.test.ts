/**
 * SIGKILL in the middle of `issue` and `renew`, through the built CLI against Pebble. After every
 * kill: the committed version (`current` → archive) is a complete, consistent set; the live files
 * are the complete old set or the complete new set (or, inside the swap window, files of those two
 * versions only, which the next run repairs); no account is lost. The next run (a plain `renew`
 * with nothing due, or the same `issue`) succeeds, repairs what needs it, and leaves no temp file,
 * no held lock and no incomplete archive version behind; a forced renew at the end shows every
 * lineage still renews and no stale lock is left.
 *
 * Kill points come from a seeded PRNG (ACMECLI_CRASH_SEED reproduces a run, ACMECLI_CRASH_RUNS and
 * ACMECLI_CRASH_LANES size it): a random instant in the measured run time, or the k-th call of a
 * file system call through strace's fault injection, which lands on a step of the write protocol
 * deterministically. A sweep over every rename of renew (and the main ones of a first issue) and
 * over the fsyncs that precede them adds each step once.
 *
 * Disk full (a small tmpfs filled up, bytes or inodes) and a read-only config dir (the tmpfs
 * remounted ro) need root for mount(8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import {
  accountProblems,
  heldLocks,
  renamePoints,
  traceRun,
  isEmptySet,
  lockFiles,
  LIVE_KINDS,
  mountTmpfs,
  mulberry32,
  readAccounts,
  readArchive,
  readCurrent,
  readFileSet,
  runCliKilledAfter,
  runCliKilledAtSyscall,
  sameSet,
  setProblems,
  straceAvailable,
  tempFilesUnder,
  type AccountOnDisk,
  type FileSet,
  type KilledRun,
  type TracedCall,
  type Tmpfs,
} from '../helpers/crash.js';

const SEED = Number(process.env.ACMECLI_CRASH_SEED ?? 0x5eed_c0de);
const RANDOM_RUNS = Number(process.env.ACMECLI_CRASH_RUNS ?? 50);
const CERT = 'crash.example.test';
const LANES = Number(process.env.ACMECLI_CRASH_LANES ?? 4);
/** The file system calls the write protocol is made of. */
const SYSCALLS = ['rename', 'fsync', 'mkdir', 'unlink'] as const;

type Kind = 'issue' | 'renew';
/**
 * `delay`: a random instant, which may come after the run ended. `syscall`: entering the `when`-th
 * call on the file thread; `lands` when the measured run makes that many (then the kill is certain).
 */
type KillPoint =
  { type: 'delay'; ms: number } | { type: 'syscall'; syscall: string; when: number; what?: string; lands?: boolean };

interface Lane {
  ca: E2eCa;
  roots: string[];
  /** The config dir renew scenarios of this lane work on, one after the other. */
  renewDir?: string;
}

interface Measured {
  durationMs: number;
  counts: Record<string, number>;
  calls: TracedCall[];
}

interface Figures {
  runs: number;
  killed: number;
  /** Of the random-instant (delay) points: how many came while the run was still going. */
  killedAtRandomInstant: number;
  finishedBeforeKill: number;
  live: Record<'old' | 'new' | 'none' | 'mixed', number>;
  newVersion: Record<'none' | 'incomplete' | 'complete', number>;
  repairs: number;
  tempFilesLeft: number;
  accountsWithoutRecord: number;
}

function newFigures(): Figures {
  return {
    runs: 0,
    killed: 0,
    killedAtRandomInstant: 0,
    finishedBeforeKill: 0,
    live: { old: 0, new: 0, none: 0, mixed: 0 },
    newVersion: { none: 0, incomplete: 0, complete: 0 },
    repairs: 0,
    tempFilesLeft: 0,
    accountsWithoutRecord: 0,
  };
}

let lanes: Lane[] = [];
const measured: Partial<Record<Kind, Measured>> = {};

function standalone(lane: Lane): string[] {
  return ['--standalone', '--http-port', String(lane.ca.pebble.httpPort)];
}

function issueArgs(lane: Lane): string[] {
  return ['issue', '--agree-tos', '-m', 'crash@example.test', '-d', CERT, ...standalone(lane)];
}

function cliArgs(lane: Lane, dir: string, kind: Kind): string[] {
  return ['--config-dir', dir, ...lane.ca.serverArgs, ...(kind === 'renew' ? ['renew', '--force'] : issueArgs(lane))];
}

beforeAll(async () => {
  if (!straceAvailable()) {
    throw new Error(
      'strace is missing: the deterministic kill points need it (apt-get install strace, or scripts/testbed/install.sh)',
    );
  }
  // Several CAs, so kill sequences run side by side (each standalone server needs its CA's port);
  // a cycle mostly waits on the network, so more lanes than cores still pay off.
  const cas = await Promise.all(Array.from({ length: LANES }, () => startE2eCa()));
  lanes = await Promise.all(cas.map(async (ca) => ({ ca, roots: await ca.pebble.rootCertificates() })));

  // The measured runs: how long each kind takes and how many file system calls it makes.
  const lane = lanes[0] as Lane;
  const traceDir = await lane.ca.newConfigDir();
  for (const kind of ['issue', 'renew'] as const) {
    const dir = await lane.ca.newConfigDir();
    if (kind === 'renew') expect((await lane.ca.run(dir, issueArgs(lane))).exitCode).toBe(0);
    const traced = await traceRun(cliArgs(lane, dir, kind), SYSCALLS, join(traceDir, `${kind}.trace`));
    expect(traced.run.exitCode, describeRun({ ...traced.run })).toBe(0);
    const plainDir = kind === 'renew' ? dir : await lane.ca.newConfigDir();
    const plain = await lane.ca.run(plainDir, kind === 'renew' ? ['renew', '--force'] : issueArgs(lane));
    expect(plain.exitCode, describeRun(plain)).toBe(0);
    measured[kind] = { durationMs: plain.durationMs, counts: traced.counts, calls: traced.calls };
  }
  // Sanity: the trace shows the write protocol (archive version, then the live files, then the
  // marker); issue writes the account first.
  const targets = (kind: Kind) => renamePoints((measured[kind] as Measured).calls).map((p) => shortPath(p.target));
  // The live set switches with one rename of the `live` link; a first issue also puts the four
  // fixed links (privkey.pem → live/privkey.pem, ...) in place, once.
  for (const kind of ['issue', 'renew'] as const) {
    expect(targets(kind)).toEqual(
      expect.arrayContaining(['archive/N/privkey.pem', 'archive/N/manifest.json', 'live', 'current']),
    );
    expect(targets(kind).indexOf('archive/N/manifest.json')).toBeLessThan(targets(kind).indexOf('live'));
  }
  expect(targets('issue')).toEqual(expect.arrayContaining(['privkey.pem', 'fullchain.pem']));
  expect(targets('renew')).not.toContain('privkey.pem');
  expect(targets('issue').slice(0, 2)).toEqual(['accounts/…/account.key', 'accounts/…/account.json']);
  for (const kind of ['issue', 'renew'] as const) {
    console.log(
      `crash: measured ${kind}: ${measured[kind]?.durationMs} ms, calls on the file thread ${JSON.stringify(measured[kind]?.counts)}`,
    );
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(lanes.map((lane) => lane.ca.stop()));
});

interface Before {
  dir: string;
  old?: FileSet;
  oldVersion?: number;
  accounts: AccountOnDisk[];
}

async function prepare(lane: Lane, kind: Kind): Promise<Before> {
  if (kind === 'issue') return { dir: await lane.ca.newConfigDir(), accounts: [] };
  if (lane.renewDir === undefined) {
    lane.renewDir = await lane.ca.newConfigDir();
    const first = await lane.ca.run(lane.renewDir, issueArgs(lane));
    expect(first.exitCode, describeRun(first)).toBe(0);
  }
  const lineage = join(lane.renewDir, 'certificates', CERT);
  return {
    dir: lane.renewDir,
    old: await readFileSet(lineage),
    oldVersion: await readCurrent(lineage),
    accounts: await readAccounts(lane.renewDir),
  };
}

async function runKilled(lane: Lane, dir: string, kind: Kind, point: KillPoint): Promise<KilledRun> {
  const args = cliArgs(lane, dir, kind);
  return point.type === 'delay'
    ? runCliKilledAfter(args, point.ms)
    : runCliKilledAtSyscall(args, { syscall: point.syscall, when: point.when });
}

function describePoint(kind: Kind, point: KillPoint): string {
  if (point.type === 'delay') return `${kind} killed after ${point.ms} ms`;
  return `${kind} killed entering ${point.syscall} #${point.when}${point.what ? ` (${point.what})` : ''}`;
}

/** What the killed run left; asserts everything that must hold right after a crash. */
async function inspectAfterKill(
  lane: Lane,
  before: Before,
  label: string,
  figures: Figures,
): Promise<{ mustRepair: boolean }> {
  const lineage = join(before.dir, 'certificates', CERT);
  const archive = await readArchive(lineage);
  const current = await readCurrent(lineage);
  const fresh = archive.filter((v) => before.oldVersion === undefined || v.number > before.oldVersion);
  expect(fresh.length, `${label}: one run adds at most one archive version`).toBeLessThanOrEqual(1);
  const newVersion = fresh[0];
  figures.newVersion[newVersion === undefined ? 'none' : newVersion.complete ? 'complete' : 'incomplete']++;

  // The committed version, as `acmecli certificates` and the next run read it.
  const committedNumber = current ?? archive.filter((v) => v.complete).at(-1)?.number;
  if (committedNumber !== undefined) {
    const committed = archive.find((v) => v.number === committedNumber);
    expect(committed?.complete, `${label}: "current" names a complete version`).toBe(true);
    expect(setProblems(committed?.files ?? {}, lane.roots), `${label}: committed version`).toEqual([]);
    expect([before.oldVersion, newVersion?.number]).toContain(committedNumber);
  } else {
    expect(before.oldVersion, `${label}: a renewed lineage always has a committed version`).toBeUndefined();
  }

  const live = await readFileSet(lineage);
  let liveClass: keyof Figures['live'];
  if (before.old !== undefined && sameSet(live, before.old)) liveClass = 'old';
  else if (newVersion?.complete && sameSet(live, newVersion.files)) liveClass = 'new';
  else if (isEmptySet(live)) liveClass = 'none';
  else liveClass = 'mixed';
  figures.live[liveClass]++;
  if (liveClass === 'old' || liveClass === 'new') {
    expect(setProblems(live, lane.roots), `${label}: live files (${liveClass} set)`).toEqual([]);
  } else if (liveClass === 'none') {
    expect(before.old, `${label}: live files vanished`).toBeUndefined();
  } else {
    // Between the first and the last live rename: only possible once the new version is complete,
    // and every live file is one of the two versions' (never torn, never foreign).
    expect(newVersion?.complete, `${label}: live files changed before the new archive version was complete`).toBe(true);
    for (const kind of LIVE_KINDS) {
      const allowed = [before.old?.[kind], newVersion?.files[kind]];
      expect(allowed, `${label}: live ${kind} is from neither version`).toContain(live[kind]);
    }
  }

  // No account is lost: an existing one is untouched; a new one is never a record without its key.
  const accounts = await readAccounts(before.dir);
  if (before.accounts.length > 0) {
    expect(accounts, `${label}: account files changed`).toEqual(before.accounts);
  } else {
    for (const account of accounts) expect(accountProblems(account), `${label}: ${account.dir}`).toEqual([]);
    if (accounts.some((a) => a.record === undefined)) figures.accountsWithoutRecord++;
  }
  if ((await tempFilesUnder(before.dir)).length > 0) figures.tempFilesLeft++;

  // Live files that are not the committed version must be put right by the next run, with a
  // warning. (It may also install a complete new version the killed run had begun to swap in.)
  const committedFiles = archive.find((v) => v.number === committedNumber)?.files;
  const mustRepair = liveClass === 'mixed' || (!isEmptySet(live) && !sameSet(live, committedFiles));
  return { mustRepair };
}

/** The next run after a kill: succeeds, repairs when needed, leaves nothing behind. */
async function recover(
  lane: Lane,
  before: Before,
  kind: Kind,
  label: string,
  mustRepair: boolean,
  figures: Figures,
): Promise<void> {
  // A plain `renew` after a killed renew: nothing is due, so only the start-of-run repair and
  // clean-up can leave the lineage in order (a forced renewal would tidy up as it writes).
  const result = await lane.ca.run(before.dir, kind === 'renew' ? ['renew'] : issueArgs(lane));
  expect(result.exitCode, `${label}: the next run\n${describeRun(result)}`).toBe(0);
  const repaired = result.stderr.includes('an interrupted run left the files half-written');
  if (mustRepair)
    expect(repaired, `${label}: the next run must say it repaired the live files\n${result.stderr}`).toBe(true);
  if (repaired) figures.repairs++;

  const lineage = join(before.dir, 'certificates', CERT);
  const archive = await readArchive(lineage);
  const current = await readCurrent(lineage);
  expect(
    archive.filter((v) => !v.complete).map((v) => v.number),
    `${label}: incomplete archive versions left`,
  ).toEqual([]);
  const committed = archive.find((v) => v.number === current);
  const live = await readFileSet(lineage);
  expect(sameSet(live, committed?.files), `${label}: live files are the committed version`).toBe(true);
  expect(setProblems(live, lane.roots), `${label}: live files after the next run`).toEqual([]);
  expect(await tempFilesUnder(before.dir), `${label}: temp files left after the next run`).toEqual([]);
  // A lock the killed run held may stay until a run needs it (it is stale and taken over then).
  expect(await heldLocks(before.dir), `${label}: locks still held after the next run`).toEqual([]);
  const accounts = (await readAccounts(before.dir)).filter((a) => a.record !== undefined);
  expect(accounts.length, `${label}: one usable account`).toBe(1);
  expect(accountProblems(accounts[0] as AccountOnDisk)).toEqual([]);
  if (before.accounts.length > 0) expect(accounts).toEqual(before.accounts.filter((a) => a.record !== undefined));
  // The renewal settings survive too.
  expect(JSON.parse(await readFile(join(lineage, 'renewal.json'), 'utf8'))).toMatchObject({
    identifiers: [{ type: 'dns', value: CERT }],
  });
}

async function crashCycle(lane: Lane, kind: Kind, point: KillPoint, figures: Figures): Promise<void> {
  const label = describePoint(kind, point);
  const before = await prepare(lane, kind);
  const run = await runKilled(lane, before.dir, kind, point);
  figures.runs++;
  if (point.type === 'syscall' && point.lands) {
    expect(
      run.killed,
      `${label}: the run makes this call, so it must be killed there\n${describeRun({ ...run })}`,
    ).toBe(true);
  }
  if (run.killed) {
    figures.killed++;
    if (point.type === 'delay') figures.killedAtRandomInstant++;
  } else {
    figures.finishedBeforeKill++;
    expect(run.exitCode, `${label}: a run that was not killed\n${describeRun({ ...run })}`).toBe(0);
  }
  const { mustRepair } = await inspectAfterKill(lane, before, label, figures);
  await recover(lane, before, kind, label, mustRepair, figures);
}

/**
 * Runs the cycles on every lane in parallel, each lane's share in order. The first failure stops
 * every lane (after its current cycle), so no lane keeps writing into the next test's time.
 */
async function runOnLanes(points: Array<{ kind: Kind; point: KillPoint }>, figures: Figures): Promise<void> {
  let failed = false;
  const results = await Promise.allSettled(
    lanes.map(async (lane, index) => {
      for (let i = index; i < points.length && !failed; i += lanes.length) {
        const { kind, point } = points[i] as { kind: Kind; point: KillPoint };
        try {
          await crashCycle(lane, kind, point, figures);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  // After all those crashes each lineage still renews.
  await Promise.all(
    lanes.map(async (lane) => {
      if (lane.renewDir === undefined) return;
      const renewed = await lane.ca.run(lane.renewDir, ['renew', '--force']);
      expect(renewed.exitCode, `a forced renew after the crashes\n${describeRun(renewed)}`).toBe(0);
      expect(setProblems(await readFileSet(join(lane.renewDir, 'certificates', CERT)), lane.roots)).toEqual([]);
      // Stale locks of killed runs were taken over and released by the runs that needed them.
      expect(await lockFiles(lane.renewDir)).toEqual([]);
      expect(await tempFilesUnder(lane.renewDir)).toEqual([]);
    }),
  );
}

/** `.../certificates/crash.example.test/archive/3/privkey.pem` → `archive/N/privkey.pem`. */
function shortPath(path: string): string {
  const rel = path.includes('/certificates/')
    ? path.slice(path.indexOf('/certificates/') + '/certificates/'.length + CERT.length + 1)
    : path.slice(path.lastIndexOf('/accounts/') + 1);
  return rel.replace(/archive\/\d+\//, 'archive/N/').replace(/^accounts\/[^/]+\/[^/]+\//, 'accounts/…/');
}

function report(title: string, figures: Figures): void {
  console.log(`crash: ${title}: ${JSON.stringify(figures)}`);
}

describe('SIGKILL during issue and renew', () => {
  it(`leaves a consistent state at ${RANDOM_RUNS} seeded random points (seed ${SEED.toString(16)})`, async () => {
    const random = mulberry32(SEED);
    const points: Array<{ kind: Kind; point: KillPoint }> = [];
    for (let i = 0; i < RANDOM_RUNS; i++) {
      const kind: Kind = random() < 0.5 ? 'issue' : 'renew';
      const stats = measured[kind] as Measured;
      if (random() < 0.5) {
        points.push({ kind, point: { type: 'delay', ms: Math.floor(random() * stats.durationMs * 1.1) } });
      } else {
        const syscall = SYSCALLS[Math.floor(random() * SYSCALLS.length)] as string;
        const calls = stats.counts[syscall] ?? 0;
        // 1..calls + 1: the last one is past the run's end, so the run completes.
        const when = 1 + Math.floor(random() * (calls + 1));
        points.push({ kind, point: { type: 'syscall', syscall, when, lands: when <= calls } });
      }
    }
    const figures = newFigures();
    await runOnLanes(points, figures);
    report(`${RANDOM_RUNS} random kill points, seed ${SEED.toString(16)}`, figures);
    // The live set is always the complete old or the complete new one.
    expect(figures.live.mixed).toBe(0);
    expect(figures.runs).toBe(RANDOM_RUNS);
    // Every call-count point within the run killed it (crashCycle checks each); the random
    // instants land wherever the machine's speed puts them, so their kills are only reported.
    const certain = points.filter((p) => p.point.type === 'syscall' && p.point.lands).length;
    expect(figures.killed - figures.killedAtRandomInstant).toBeGreaterThanOrEqual(certain);
  }, 300_000);

  it('leaves a consistent state when killed before each rename of renew, and of a first issue', async () => {
    const points: Array<{ kind: Kind; point: KillPoint }> = [];
    for (const p of renamePoints((measured.renew as Measured).calls)) {
      points.push({
        kind: 'renew',
        point: { type: 'syscall', syscall: 'rename', when: p.rename, what: shortPath(p.target) },
      });
    }
    // A first issue: the account's two files, the first and last archive file, the first two
    // live files and the marker (the steps in between are the same as renew's).
    const wanted = [
      'accounts/…/account.key',
      'accounts/…/account.json',
      'archive/N/privkey.pem',
      'archive/N/manifest.json',
      'live',
      'privkey.pem',
      'cert.pem',
      'current',
    ];
    for (const p of renamePoints((measured.issue as Measured).calls)) {
      if (wanted.includes(shortPath(p.target)))
        points.push({
          kind: 'issue',
          point: { type: 'syscall', syscall: 'rename', when: p.rename, what: shortPath(p.target) },
        });
    }
    expect(points.filter((p) => p.kind === 'issue')).toHaveLength(wanted.length);
    const figures = newFigures();
    await runOnLanes(points, figures);
    report('a kill before every rename', figures);
    expect(figures.killed).toBe(points.length);
    // The live set is switched by one rename: a kill at any point leaves the old or the new set,
    // never a mix. A kill after that rename but before `current` leaves the marker for the next
    // run to complete (with a warning).
    expect(figures.live.mixed).toBe(0);
    expect(figures.live.new).toBeGreaterThanOrEqual(1);
    expect(figures.repairs).toBeGreaterThanOrEqual(1);
  }, 300_000);

  it('cleans up the finished temp file of a run killed between writing a file and renaming it', async () => {
    // Files written whole, then fsynced and renamed: two archive files, the manifest, the live
    // renewal.json and `current` (the `live` link is a symlink: nothing to fsync before it).
    const wanted = [
      'archive/N/privkey.pem',
      'archive/N/cert.pem',
      'archive/N/manifest.json',
      'renewal.json',
      'current',
    ];
    const points = renamePoints((measured.renew as Measured).calls)
      .filter((p) => wanted.includes(shortPath(p.target)) && p.fileFsync !== undefined)
      .map((p) => ({
        kind: 'renew' as const,
        point: {
          type: 'syscall' as const,
          syscall: 'fsync',
          when: p.fileFsync,
          what: `before renaming onto ${shortPath(p.target)}`,
        },
      }));
    expect(points.length).toBeGreaterThanOrEqual(5);
    const figures = newFigures();
    await runOnLanes(points, figures);
    report('a kill between a temp file and its rename', figures);
    expect(figures.killed).toBe(points.length);
    expect(figures.tempFilesLeft).toBe(points.length);
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------
// Disk full and read-only config dir: a tmpfs of our own under the config dir.

const PAGE = 4096;

/** Fills the file system at `dir` with one file, then gives back `sparePages` pages. */
function fillLeaving(dir: string, sparePages: number): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(PAGE, 0x5a);
  let written = 0;
  try {
    // Bounded by the file system size (TMPFS_BYTES) plus slack.
    for (let i = 0; i < TMPFS_BYTES / PAGE + 16; i++) {
      try {
        written += writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    ftruncateSync(fd, Math.max(0, written - sparePages * PAGE));
  } finally {
    closeSync(fd);
  }
  return filler;
}

/** Creates empty files until the inode table is full, then removes `spare` of them. */
function fillInodesLeaving(dir: string, spare: number): string {
  const fillers = join(dir, 'inode-fillers');
  mkdirSync(fillers);
  const created: string[] = [];
  for (let i = 0; i < TMPFS_INODES + 16; i++) {
    try {
      const path = join(fillers, String(i));
      closeSync(openSync(path, 'w'));
      created.push(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
      throw error;
    }
  }
  for (const path of created.slice(-spare)) if (spare > 0) rmSync(path);
  return fillers;
}

const TMPFS_BYTES = 512 * 1024;
const TMPFS_INODES = 400;

async function withTmpfsConfig(
  inodes: number | undefined,
  body: (mount: Tmpfs, dir: string) => Promise<void>,
): Promise<void> {
  const mountPoint = await mkdtemp(join(tmpdir(), 'acmecli-crash-fs-'));
  let mount: Tmpfs | undefined;
  try {
    mount = mountTmpfs(mountPoint, TMPFS_BYTES, inodes);
    const dir = join(mountPoint, 'config');
    await body(mount, dir);
  } finally {
    mount?.unmount();
    await rm(mountPoint, { recursive: true, force: true });
  }
}

interface LineageState {
  live: FileSet;
  current: number | undefined;
  accounts: AccountOnDisk[];
}

async function lineageState(dir: string): Promise<LineageState> {
  const lineage = join(dir, 'certificates', CERT);
  return { live: await readFileSet(lineage), current: await readCurrent(lineage), accounts: await readAccounts(dir) };
}

/** After a failed write: same live files, same committed version, same account, no temp file. */
async function expectUnchanged(lane: Lane, dir: string, before: LineageState, label: string): Promise<void> {
  const after = await lineageState(dir);
  expect(sameSet(after.live, before.live), `${label}: live files changed`).toBe(true);
  expect(setProblems(after.live, lane.roots), label).toEqual([]);
  expect(after.current, `${label}: committed version`).toBe(before.current);
  expect(after.accounts, `${label}: account files`).toEqual(before.accounts);
  expect(await tempFilesUnder(dir), `${label}: temp files`).toEqual([]);
  expect(await lockFiles(dir), `${label}: locks`).toEqual([]);
}

/** Once there is room again: the next run succeeds and leaves no incomplete version. */
async function expectNextRunSucceeds(lane: Lane, dir: string, label: string): Promise<void> {
  const next = await lane.ca.run(dir, ['renew', '--force']);
  expect(next.exitCode, `${label}: the next run\n${describeRun(next)}`).toBe(0);
  const lineage = join(dir, 'certificates', CERT);
  expect(
    (await readArchive(lineage)).filter((v) => !v.complete),
    `${label}: incomplete versions`,
  ).toEqual([]);
  expect(setProblems(await readFileSet(lineage), lane.roots)).toEqual([]);
  expect(await tempFilesUnder(dir)).toEqual([]);
}

describe('disk full and read-only config dir', () => {
  it('renew on a full disk exits 6 naming ENOSPC and the file, keeps the old files, and the next run succeeds', async () => {
    const lane = lanes[0] as Lane;
    const failedAt: string[] = [];
    await withTmpfsConfig(undefined, async (mount, dir) => {
      const issued = await lane.ca.run(dir, issueArgs(lane));
      expect(issued.exitCode, describeRun(issued)).toBe(0);
      // Spare room from none (the lock cannot be written) to enough for part of the new version.
      for (const spare of [0, 2, 5]) {
        const label = `${spare} spare pages`;
        const before = await lineageState(dir);
        const filler = fillLeaving(mount.path, spare);
        const result = await lane.ca.run(dir, ['renew', '--force']);
        rmSync(filler);
        if (result.exitCode === 0) continue;
        expect(result.exitCode, `${label}\n${describeRun(result)}`).toBe(6);
        const message = /cannot (?:write|create \S+|write lock) (\S+): no space left on device \(ENOSPC\)/.exec(
          result.stderr,
        );
        expect(message, `${label}: a one-line reason naming the file\n${result.stderr}`).not.toBeNull();
        expect(message?.[1]).toContain(dir);
        failedAt.push(shortPath(message?.[1] ?? '').replace(/^.*\/locks\//, 'locks/'));
        await expectUnchanged(lane, dir, before, label);
        await expectNextRunSucceeds(lane, dir, label);
      }
    });
    console.log(`crash: full disk: renew failed writing ${JSON.stringify(failedAt)}`);
    // Both before the CA is asked (the lock) and while the new version is written.
    expect(failedAt.some((path) => path.startsWith('locks/'))).toBe(true);
    expect(failedAt.some((path) => path.startsWith('archive/'))).toBe(true);
  }, 120_000);

  it('renew with no inode left exits 6 naming ENOSPC, keeps the old files, and the next run succeeds', async () => {
    const lane = lanes[0] as Lane;
    await withTmpfsConfig(TMPFS_INODES, async (mount, dir) => {
      const issued = await lane.ca.run(dir, issueArgs(lane));
      expect(issued.exitCode, describeRun(issued)).toBe(0);
      const before = await lineageState(dir);
      const fillers = fillInodesLeaving(mount.path, 3);
      const result = await lane.ca.run(dir, ['renew', '--force']);
      rmSync(fillers, { recursive: true });
      expect(result.exitCode, describeRun(result)).toBe(6);
      expect(result.stderr).toMatch(/no space left on device \(ENOSPC\)/);
      await expectUnchanged(lane, dir, before, 'no inode left');
      await expectNextRunSucceeds(lane, dir, 'no inode left');
    });
  }, 60_000);

  it('a read-only config dir: exit 6 naming EROFS, nothing changed, reading still works, and the next run succeeds', async () => {
    const lane = lanes[0] as Lane;
    await withTmpfsConfig(undefined, async (mount, dir) => {
      const issued = await lane.ca.run(dir, issueArgs(lane));
      expect(issued.exitCode, describeRun(issued)).toBe(0);
      const before = await lineageState(dir);
      mount.setReadOnly(true);
      try {
        const renewed = await lane.ca.run(dir, ['renew', '--force']);
        expect(renewed.exitCode, describeRun(renewed)).toBe(6);
        expect(renewed.stderr).toMatch(
          new RegExp(
            `cannot [a-z ]+ ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\S*: read-only file system \\(EROFS\\)`,
          ),
        );
        const other = await lane.ca.run(dir, ['issue', '-d', 'other.example.test', ...standalone(lane)]);
        expect(other.exitCode, describeRun(other)).toBe(6);
        expect(other.stderr).toContain('read-only file system (EROFS)');
        const listed = await lane.ca.run(dir, ['--json', 'certificates']);
        expect(listed.exitCode, describeRun(listed)).toBe(0);
        expect(JSON.parse(listed.stdout).result.map((c: { certName: string }) => c.certName)).toEqual([CERT]);
      } finally {
        mount.setReadOnly(false);
      }
      await expectUnchanged(lane, dir, before, 'read-only');
      await expectNextRunSucceeds(lane, dir, 'read-only');
    });
  }, 60_000);
});
