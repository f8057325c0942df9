/**
 * Cross-process exclusive locks without native modules, on Linux and Windows alike: a lock is a
 * file `<config>/locks/<name>.lock` created with O_EXCL ('wx'), holding
 * "pid hostname startedAt token". O_EXCL creation is atomic on local file systems and NTFS.
 *
 * A lock is stale, and taken over, when its holder is on this host and that pid is gone
 * (process.kill(pid, 0) → ESRCH), or when it was taken before this machine last booted (so the
 * pid may now belong to something else). A lock from another host (a shared config directory, or
 * a container recreated with a new hostname) cannot have its pid checked; it is taken over only
 * once it is older than any run could last (24 h). Takeover itself is serialised by `<name>.lock.takeover`, created the same way,
 * so two runs that find the same stale lock cannot both win. A guard left by a run that died
 * taking over names its pid and is removed as soon as that pid is gone (after 30 s when its
 * holder cannot be told: empty, or another host's).
 *
 * Locks are not re-entrant: a second acquire of the same name in the same process waits or fails.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from './fs.js';
import { readFileSync, unlinkSync } from 'node:fs';
import { hostname as osHostname, uptime } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AbortedError, LocalError, throwIfAborted } from '../errors.js';
import { codeOf, ensureDir, isProcessAlive, localErrorFor } from './atomic-write.js';
import { locksDir } from './layout.js';

export interface AcquireLockOptions {
  /** Wait for the holder to finish instead of failing at once. */
  wait: boolean;
  /** Upper bound on waiting; ignored when `wait` is false. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Poll interval while waiting (default 200 ms, grows to 1 s). */
  pollMs?: number;
  /** Called once when the lock is busy and waiting starts, e.g. to tell the user who holds it. */
  onWait?: (holder: LockHolder | undefined) => void;
}

export interface Lock {
  readonly path: string;
  /**
   * Removes the lock file if it is still ours. Idempotent. Synchronous so it can also run from
   * a process 'exit' handler.
   */
  release(): void;
}

export interface LockHolder {
  pid: number;
  hostname: string;
  startedAt: string;
  token: string;
}

const LOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,240}$/;
// A holder between open('wx') and its write has an empty file; allow it this long to fill it.
const EMPTY_LOCK_GRACE_MS = 10_000;
// A takeover guard is held for a few file operations; older than this its owner died mid-way.
const GUARD_STALE_MS = 30_000;
// Clock skew allowance when comparing a lock's start time with the boot time.
const BOOT_SLACK_MS = 60_000;
// Longer than any run: renew waits at most an hour for its lock, hooks and polling are bounded.
const FOREIGN_LOCK_MAX_AGE_MS = 24 * 60 * 60_000;

export async function acquireLock(configDir: string, name: string, options: AcquireLockOptions): Promise<Lock> {
  if (!LOCK_NAME.test(name)) throw new Error(`invalid lock name ${JSON.stringify(name)}`);
  const dir = locksDir(configDir);
  await ensureDir(dir, 0o700);
  const path = join(dir, `${name}.lock`);
  const deadline = Date.now() + Math.max(0, options.timeoutMs);
  let pollMs = options.pollMs ?? 200;
  let waiting = false;
  for (;;) {
    throwIfAborted(options.signal);
    const lock = await tryCreate(path);
    if (lock !== undefined) return lock;

    const holder = await readHolder(path);
    if (holder === 'gone') continue;
    if (await isStale(path, holder)) {
      // Another run is taking over right now: give it a moment instead of spinning.
      if (!(await takeOver(path, holder))) await delay(50);
      continue;
    }
    if (!options.wait) throw heldError(name, path, holder);
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new LocalError(
        `timed out after ${formatDuration(options.timeoutMs)} waiting for ${name}${describeHolder(holder)}`,
        { hint: `if no acmecli is running, remove ${path}` },
      );
    }
    if (!waiting) {
      waiting = true;
      options.onWait?.(holder === 'unreadable' ? undefined : holder);
    }
    try {
      throwIfAborted(options.signal);
      await delay(Math.min(pollMs, left), undefined, options.signal === undefined ? {} : { signal: options.signal });
    } catch (error) {
      throw new AbortedError('cancelled while waiting for a lock', { cause: error });
    }
    pollMs = Math.min(pollMs * 2, 1000);
  }
}

/** Who holds a lock, for messages like `acmecli renew` listing busy certificates. */
export async function readLockHolder(configDir: string, name: string): Promise<LockHolder | undefined> {
  const holder = await readHolder(join(locksDir(configDir), `${name}.lock`));
  return holder === 'gone' || holder === 'unreadable' ? undefined : holder;
}

async function tryCreate(path: string): Promise<Lock | undefined> {
  const token = randomBytes(8).toString('hex');
  const content = `${process.pid} ${osHostname()} ${new Date().toISOString()} ${token}\n`;
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return undefined;
    throw localErrorFor('create lock', path, error);
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw localErrorFor('write lock', path, error);
  }
  await handle.close();
  return createLock(path, token);
}

function createLock(path: string, token: string): Lock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // Only remove our own file: after a (wrong) takeover by another run it is theirs.
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return;
      }
      if (parseHolder(text)?.token !== token) return;
      try {
        unlinkSync(path);
      } catch {
        // Left behind: the next run finds our pid dead and takes it over.
      }
    },
  };
}

type HolderState = LockHolder | 'unreadable' | 'gone';

async function readHolder(path: string): Promise<HolderState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return 'gone';
    if (codeOf(error) === 'EPERM' || codeOf(error) === 'EBUSY') return 'unreadable';
    throw localErrorFor('read lock', path, error);
  }
  return parseHolder(text) ?? 'unreadable';
}

function parseHolder(text: string): LockHolder | undefined {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 4) return undefined;
  const [pidText, hostname, startedAt, token] = parts as [string, string, string, string];
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, hostname, startedAt, token };
}

async function isStale(path: string, holder: LockHolder | 'unreadable'): Promise<boolean> {
  if (holder === 'unreadable') {
    // Empty or garbled: either a holder between create and write, or one that died there.
    try {
      return Date.now() - (await stat(path)).mtimeMs > EMPTY_LOCK_GRACE_MS;
    } catch {
      return false;
    }
  }
  const started = Date.parse(holder.startedAt);
  if (holder.hostname !== osHostname()) {
    return Number.isFinite(started) && Date.now() - started > FOREIGN_LOCK_MAX_AGE_MS;
  }
  if (!isProcessAlive(holder.pid)) return true;
  const bootedAt = Date.now() - uptime() * 1000;
  return Number.isFinite(started) && started < bootedAt - BOOT_SLACK_MS;
}

/**
 * Removes a stale lock file under the takeover guard, and only if it still is the file judged
 * stale: a lock file is removed only by its owner (dead here) or by a guard holder, so what we
 * re-read under the guard cannot change before our unlink. Returns false when another run holds
 * the guard (the caller retries shortly).
 */
async function takeOver(path: string, judged: LockHolder | 'unreadable'): Promise<boolean> {
  const guard = `${path}.takeover`;
  let guardHandle;
  try {
    guardHandle = await open(guard, 'wx', 0o644);
  } catch (error) {
    if (codeOf(error) !== 'EEXIST') throw localErrorFor('create lock', guard, error);
    return removeDeadGuard(guard);
  }
  try {
    // Who holds the guard: a run that finds it left behind by a dead one need not wait for it to age.
    await guardHandle.writeFile(`${process.pid} ${osHostname()} ${new Date().toISOString()} ${randomBytes(8).toString('hex')}\n`);
  } finally {
    await guardHandle.close();
  }
  try {
    const now = await readHolder(path);
    const same =
      judged === 'unreadable'
        ? now === 'unreadable'
        : now !== 'unreadable' && now !== 'gone' && now.token === judged.token;
    if (!same) return true;
    try {
      await unlink(path);
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw localErrorFor('take over lock', path, error);
    }
  } finally {
    await unlink(guard).catch(() => undefined);
  }
  return true;
}

/**
 * A takeover guard left by a run that died taking over: removed at once when its holder's pid is
 * gone (same host), otherwise once it is older than GUARD_STALE_MS (an empty guard, or another
 * host's). Returns true when the caller may retry at once.
 */
async function removeDeadGuard(guard: string): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    text = await readFile(guard, 'utf8');
    mtimeMs = (await stat(guard)).mtimeMs;
  } catch {
    // Gone already: retry from the top.
    return true;
  }
  const owner = parseHolder(text);
  const dead = owner !== undefined && owner.hostname === osHostname() && !isProcessAlive(owner.pid);
  if (!dead && Date.now() - mtimeMs <= GUARD_STALE_MS) return false;
  // Moved aside first: of several runs that find the same dead guard only one removes it, and a
  // fresh guard another run created in its place meanwhile is recognised and put back.
  const aside = `${guard}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(guard, aside);
  } catch {
    return true;
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined);
  if (moved !== text) await link(aside, guard).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return moved === text;
}

function heldError(name: string, path: string, holder: LockHolder | 'unreadable'): LocalError {
  return new LocalError(`another acmecli run holds ${name}${describeHolder(holder)}`, {
    // No command has a --wait flag (renew waits by itself): say what the user can actually do.
    hint: `run the command again once it has finished, or remove ${path} if no acmecli is running`,
  });
}

function describeHolder(holder: LockHolder | 'unreadable'): string {
  if (holder === 'unreadable') return '';
  const host = holder.hostname === osHostname() ? '' : ` on ${holder.hostname}`;
  return ` (pid ${holder.pid}${host}, since ${holder.startedAt})`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
