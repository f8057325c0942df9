/**
 * Tools for crash tests: a seeded PRNG, the CLI killed at a random instant or at the k-th call of
 * a system call (strace fault injection), and checks of what a killed run left on disk: the live
 * file set, the committed archive version, the account, temp files and locks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cliCommand, REPO_ROOT } from './cli.js';
import { waitUntil } from './processes.js';

/** mulberry32: tiny and seedable, so a failing seed reproduces the same kill points. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface KilledRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The run was ended by SIGKILL (it may also have finished before the kill came). */
  killed: boolean;
  durationMs: number;
}

function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...extra };
}

function collect(child: ChildProcess, started: number, timeoutMs: number): Promise<KilledRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin?.end();
  // A hung run must not hang the test: it is killed and reported like any other kill.
  const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(guard);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(guard);
      const killed = signal === 'SIGKILL' || exitCode === 137;
      resolve({ exitCode, signal, stdout, stderr, killed, durationMs: Date.now() - started });
    });
  });
}

/**
 * Runs the CLI and SIGKILLs it after `delayMs` (fault injection, not synchronisation: the point
 * is to land anywhere in the run). A run that ends earlier is simply not killed.
 */
export function runCliKilledAfter(
  args: readonly string[],
  delayMs: number,
  options: { timeoutMs?: number } = {},
): Promise<KilledRun> {
  const { file, prefix } = cliCommand();
  const started = Date.now();
  const child = spawn(file, [...prefix, ...args], { cwd: REPO_ROOT, env: baseEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  child.on('close', () => clearTimeout(timer));
  return collect(child, started, options.timeoutMs ?? 60_000);
}

export interface SyscallPoint {
  /** e.g. 'rename' or 'fsync' (x86_64 names; strace maps them on other architectures). */
  syscall: string;
  /** 1-based: killed on entering the `when`-th call (the call itself never happens). */
  when: number;
}

/** Whether strace is installed (the deterministic kill points need it). */
export function straceAvailable(): boolean {
  return spawnSync('strace', ['-V'], { encoding: 'utf8' }).status === 0;
}

/**
 * Runs the CLI under strace, which delivers SIGKILL when the process enters the `when`-th call of
 * `syscall`. strace counts per thread; UV_THREADPOOL_SIZE=1 puts every file operation on one
 * libuv thread, so "the 7th rename" is the same step of the write protocol in every run.
 */
export function runCliKilledAtSyscall(
  args: readonly string[],
  point: SyscallPoint,
  options: { timeoutMs?: number } = {},
): Promise<KilledRun> {
  const { file, prefix } = cliCommand();
  const started = Date.now();
  const strace = [
    // No --seccomp-bpf: with it, strace 6.1 injects at when=1 only.
    '-f',
    '-qq',
    '-o',
    '/dev/null',
    '-e',
    `trace=${point.syscall}`,
    '-e',
    `inject=${point.syscall}:signal=KILL:when=${point.when}`,
  ];
  const child = spawn('strace', [...strace, file, ...prefix, ...args], {
    cwd: REPO_ROOT,
    env: baseEnv({ UV_THREADPOOL_SIZE: '1' }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return collect(child, started, options.timeoutMs ?? 60_000);
}

export interface TracedCall {
  syscall: string;
  /** rename, link: the target path (the new name). */
  target?: string;
}

export interface TracedRun {
  run: KilledRun;
  /** Calls of the traced syscalls on the file thread, in order. */
  calls: TracedCall[];
  /** How often each traced syscall was called on the file thread. */
  counts: Record<string, number>;
}

/**
 * One run under strace (UV_THREADPOOL_SIZE=1, as runCliKilledAtSyscall), recording the calls of
 * `syscalls` made by the file thread: which `when` values exist, and what each one does.
 */
export async function traceRun(
  args: readonly string[],
  syscalls: readonly string[],
  traceFile: string,
): Promise<TracedRun> {
  const { file, prefix } = cliCommand();
  const started = Date.now();
  // openat with -y (fds decoded as paths) as well: the store writes inside open directories, by
  // /proc/self/fd/<fd>/<name>, and a rename's target is named by the directory <fd> was opened as.
  const child = spawn(
    'strace',
    ['-f', '-qq', '-y', '-o', traceFile, '-e', `trace=${[...syscalls, 'openat'].join(',')}`, file, ...prefix, ...args],
    {
      cwd: REPO_ROOT,
      env: baseEnv({ UV_THREADPOOL_SIZE: '1' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const run = await collect(child, started, 60_000);
  const perThread = new Map<string, TracedCall[]>();
  /** fd → the path it was opened by (fds are per process, and the traced CLI is one process). */
  const openPaths = new Map<string, string>();
  for (const line of (await readFile(traceFile, 'utf8')).split('\n')) {
    // "<pid> name(args) = ret" or "<pid> name(args <unfinished ...>"; "resumed" lines repeat nothing new.
    const opened = /^\d+\s+(?:openat\(.*|<\.\.\. openat resumed>.*)\) = (\d+)<(.*)>$/.exec(line);
    if (opened) openPaths.set(opened[1] as string, opened[2] as string);
    const match = /^(\d+)\s+([a-z0-9_]+)\((.*)$/.exec(line);
    if (!match || !syscalls.includes(match[2] as string)) continue;
    const call: TracedCall = { syscall: match[2] as string };
    if (call.syscall === 'rename' || call.syscall === 'link') {
      const target = /^"(?:[^"\\]|\\.)*", "((?:[^"\\]|\\.)*)"/.exec(match[3] as string);
      if (target) {
        call.target = (target[1] as string).replace(
          /^\/proc\/self\/fd\/(\d+)(?=\/)/,
          (whole, fd: string) => openPaths.get(fd) ?? whole,
        );
      }
    }
    const calls = perThread.get(match[1] as string) ?? [];
    calls.push(call);
    perThread.set(match[1] as string, calls);
  }
  // The file thread is the one with the most renames (every atomic write ends in one).
  const renames = (calls: TracedCall[]) => calls.filter((c) => c.syscall === 'rename').length;
  const calls = [...perThread.values()].sort((a, b) => renames(b) - renames(a))[0] ?? [];
  const counts: Record<string, number> = {};
  for (const name of syscalls) counts[name] = calls.filter((c) => c.syscall === name).length;
  return { run, calls, counts };
}

/**
 * For each rename of a traced run: its target and the number (`when`) of the fsync just before
 * it, i.e. the fsync of the finished temp file that the rename would install.
 */
export function renamePoints(
  calls: readonly TracedCall[],
): Array<{ rename: number; target: string; fileFsync: number }> {
  const points: Array<{ rename: number; target: string; fileFsync: number }> = [];
  let renames = 0;
  let fsyncs = 0;
  for (const call of calls) {
    if (call.syscall === 'fsync') fsyncs++;
    if (call.syscall === 'rename') points.push({ rename: ++renames, target: call.target ?? '?', fileFsync: fsyncs });
  }
  return points;
}

// ---------------------------------------------------------------------------------------------
// What is on disk

export const LIVE_KINDS = ['privkey', 'cert', 'chain', 'fullchain'] as const;
export type LiveKind = (typeof LIVE_KINDS)[number];
export type FileSet = Partial<Record<LiveKind, string>>;

const FILE_OF: Record<LiveKind, string> = {
  privkey: 'privkey.pem',
  cert: 'cert.pem',
  chain: 'chain.pem',
  fullchain: 'fullchain.pem',
};

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function readFileSet(dir: string): Promise<FileSet> {
  const set: FileSet = {};
  for (const kind of LIVE_KINDS) {
    const text = await readOptional(join(dir, FILE_OF[kind]));
    if (text !== undefined) set[kind] = text;
  }
  return set;
}

export function isEmptySet(set: FileSet): boolean {
  return LIVE_KINDS.every((kind) => set[kind] === undefined);
}

export function sameSet(a: FileSet, b: FileSet | undefined): boolean {
  return b !== undefined && LIVE_KINDS.every((kind) => a[kind] === b[kind]);
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/**
 * Problems with a certificate file set, empty when it is complete and consistent: the key
 * matches the certificate, fullchain = cert + chain, and every certificate is issued and signed
 * by the next one, the last by one of `roots`.
 */
export function setProblems(set: FileSet, roots: readonly string[]): string[] {
  const missing = LIVE_KINDS.filter((kind) => set[kind] === undefined);
  if (missing.length > 0) return [`missing ${missing.join(', ')}`];
  const problems: string[] = [];
  try {
    const leaf = new X509Certificate(set.cert as string);
    const certKey = leaf.publicKey.export({ type: 'spki', format: 'der' });
    const key = createPublicKey(createPrivateKey(set.privkey as string)).export({ type: 'spki', format: 'der' });
    if (Buffer.compare(certKey, key) !== 0) problems.push('the private key does not match the certificate');
    if (set.fullchain !== (set.cert as string) + (set.chain as string)) problems.push('fullchain is not cert + chain');
    const chain = pemBlocks(set.chain as string).map((pem) => new X509Certificate(pem));
    if (chain.length === 0) problems.push('chain.pem holds no certificate');
    const path = [leaf, ...chain];
    for (let i = 0; i + 1 < path.length; i++) {
      const [subject, issuer] = [path[i] as X509Certificate, path[i + 1] as X509Certificate];
      if (!subject.checkIssued(issuer) || !subject.verify(issuer.publicKey))
        problems.push(`certificate ${i + 1} is not signed by certificate ${i + 2}`);
    }
    const top = path[path.length - 1] as X509Certificate;
    const anchored = roots.some((pem) => {
      const root = new X509Certificate(pem);
      return top.fingerprint256 === root.fingerprint256 || (top.checkIssued(root) && top.verify(root.publicKey));
    });
    if (!anchored) problems.push('the chain does not end at the CA root');
  } catch (error) {
    problems.push(`unreadable: ${(error as Error).message}`);
  }
  return problems;
}

export interface ArchiveVersionOnDisk {
  number: number;
  /** The manifest exists and every file matches its hash. */
  complete: boolean;
  files: FileSet;
}

/** Every numbered archive version of a lineage, oldest first. */
export async function readArchive(lineageDir: string): Promise<ArchiveVersionOnDisk[]> {
  const archive = join(lineageDir, 'archive');
  let names: string[];
  try {
    names = await readdir(archive);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const versions: ArchiveVersionOnDisk[] = [];
  for (const name of names.filter((n) => /^[1-9]\d*$/.test(n)).sort((a, b) => Number(a) - Number(b))) {
    const dir = join(archive, name);
    const files = await readFileSet(dir);
    const manifestText = await readOptional(join(dir, 'manifest.json'));
    let complete = false;
    if (manifestText !== undefined) {
      const manifest = JSON.parse(manifestText) as { files: Record<string, string> };
      const sha = (text: string | undefined) =>
        text === undefined ? undefined : createHash('sha256').update(text, 'utf8').digest('hex');
      complete = LIVE_KINDS.every((kind) => sha(files[kind]) === manifest.files[FILE_OF[kind]]);
    }
    versions.push({ number: Number(name), complete, files });
  }
  return versions;
}

/** The version number in `current`, if any. */
export async function readCurrent(lineageDir: string): Promise<number | undefined> {
  const text = await readOptional(join(lineageDir, 'current'));
  return text === undefined ? undefined : Number(text.trim());
}

/** Every file and directory below `dir`, relative path → content as base64 ("<dir>" for directories). */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    result[path.slice(dir.length + 1)] = entry.isFile() ? (await readFile(path)).toString('base64') : '<dir>';
  }
  return result;
}

/** Paths (relative to `root`) of atomic-write temp files (`.<name>.tmp-<pid>-<hex>`) anywhere below it. */
export async function tempFilesUnder(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => /\.tmp-\d+-[0-9a-f]+$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .sort();
}

/** Lock files (and takeover guards) left in <config>/locks. */
export async function lockFiles(configDir: string): Promise<string[]> {
  try {
    return (await readdir(join(configDir, 'locks'))).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Lock files whose holder still runs (or that cannot be read). A lock left by a killed run is
 * stale: the next run that needs it takes it over, so it does not count.
 */
export async function heldLocks(configDir: string): Promise<string[]> {
  const held: string[] = [];
  for (const name of await lockFiles(configDir)) {
    const text = await readOptional(join(configDir, 'locks', name));
    const pid = Number(text?.trim().split(/\s+/)[0]);
    const valid = Number.isSafeInteger(pid) && pid > 0;
    const state = valid ? procState(pid) : undefined;
    const alive = state !== undefined && state !== 'Z' && state !== 'X';
    if (!valid || alive) held.push(name);
  }
  return held;
}

export interface AccountOnDisk {
  dir: string;
  record?: string;
  key?: string;
}

/** Every account directory under <config>/accounts/<server>/<name>. */
export async function readAccounts(configDir: string): Promise<AccountOnDisk[]> {
  const root = join(configDir, 'accounts');
  const accounts: AccountOnDisk[] = [];
  let servers: string[];
  try {
    servers = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  for (const server of servers.sort()) {
    for (const name of (await readdir(join(root, server))).sort()) {
      const dir = join(root, server, name);
      const record = await readOptional(join(dir, 'account.json'));
      const key = await readOptional(join(dir, 'account.key'));
      accounts.push({ dir, ...(record !== undefined ? { record } : {}), ...(key !== undefined ? { key } : {}) });
    }
  }
  return accounts;
}

/** Problems with an account that has a record: it must parse and come with a loadable key. */
export function accountProblems(account: AccountOnDisk): string[] {
  if (account.record === undefined) return [];
  const problems: string[] = [];
  try {
    const record = JSON.parse(account.record) as { url?: unknown };
    if (typeof record.url !== 'string') problems.push('account.json has no account URL');
  } catch {
    problems.push('account.json is not JSON');
  }
  if (account.key === undefined) problems.push('account.json exists without account.key');
  else {
    try {
      createPrivateKey(account.key);
    } catch {
      problems.push('account.key is not a private key');
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// A small file system of our own, to fill up or make read-only (needs root: mount(8))

export interface Tmpfs {
  readonly path: string;
  /** Remounts read-only (true) or read-write (false). */
  setReadOnly(readOnly: boolean): void;
  unmount(): void;
}

function mountCommand(args: string[]): void {
  const result = spawnSync(args[0] as string, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `${args.join(' ')} failed (${result.status}): ${result.stderr || result.error?.message || ''}`.trim(),
    );
  }
}

/** Mounts a tmpfs of `sizeBytes` (and at most `inodes` files, when given) on the empty dir `path`. */
export function mountTmpfs(path: string, sizeBytes: number, inodes?: number): Tmpfs {
  const options = [`size=${sizeBytes}`, 'mode=0755', ...(inodes ? [`nr_inodes=${inodes}`] : [])].join(',');
  mountCommand(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', path]);
  let mounted = true;
  return {
    path,
    setReadOnly: (readOnly) => mountCommand(['mount', '-o', `remount,${readOnly ? 'ro' : 'rw'}`, path]),
    unmount: () => {
      if (!mounted) return;
      mounted = false;
      const result = spawnSync('umount', [path], { encoding: 'utf8' });
      // Lazy unmount when something still holds a file open there: it must not outlive the test.
      if (result.status !== 0) mountCommand(['umount', '-l', path]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A run frozen at a precise step (strace: SIGSTOP around the k-th call of a syscall)

export interface FrozenRun {
  /** strace's process; it exits with the CLI. */
  child: ChildProcess;
  /**
   * Resolves with the CLI's own pid once `reached()` holds (the test's view of the step, e.g.
   * files on disk) and every thread of the CLI is stopped. Rejects if the run exits first.
   */
  stopped(reached: () => boolean | Promise<boolean>): Promise<number>;
  /** Lets the stopped CLI go on. */
  resume(): void;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * Runs the CLI under strace, which stops it with SIGSTOP at the `when`-th call of `syscall` (for
 * rename: just after that rename is done). Freezes a run at an exact step of its work, so a test
 * can look at, or race with, that state as long as it likes.
 */
export function runCliFrozenAtSyscall(args: readonly string[], point: SyscallPoint): FrozenRun {
  const { file, prefix } = cliCommand();
  const child = spawn(
    'strace',
    [
      '-f',
      '-qq',
      '-o',
      '/dev/null',
      '-e',
      `trace=${point.syscall}`,
      '-e',
      `inject=${point.syscall}:signal=STOP:when=${point.when}`,
      file,
      ...prefix,
      ...args,
    ],
    {
      cwd: REPO_ROOT,
      env: baseEnv({ UV_THREADPOOL_SIZE: '1' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin?.end();
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  let cliPid: number | undefined;
  const frozen = (): boolean => {
    cliPid ??= readChildren(child.pid as number)[0];
    if (cliPid === undefined) return false;
    const threads = readdirSync(`/proc/${cliPid}/task`);
    return threads.length > 0 && threads.every((tid) => /^[tT]$/.test(procState(Number(tid)) ?? ''));
  };
  return {
    child,
    stopped: async (reached) => {
      await waitUntil(
        async () => {
          if (child.exitCode !== null || child.signalCode !== null)
            throw new Error(`the run exited before it was stopped\n${stderr}`);
          return (await reached()) && frozen();
        },
        { timeoutMs: 60_000, what: `the CLI to stop at ${point.syscall} #${point.when}` },
      );
      return cliPid as number;
    },
    resume: () => {
      if (cliPid !== undefined) process.kill(cliPid, 'SIGCONT');
    },
    exited,
  };
}

function readChildren(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}
