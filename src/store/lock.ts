/**
 * Cross-process exclusive locks without native modules, on Linux and Windows alike: a lock is a
 * file `<config>/locks/<name>.lock` holding "pid hostname startedAt token start bootId".
 *
 * The file appears complete or not at all: it is written under a temp name in the same directory
 * and then link(2)ed to the lock name, which fails with EEXIST instead of replacing (a hard link on
 * NTFS alike). So a lock file that is empty or cut short is never a holder between create and
 * write: it is debris of a crash, and taken over at once. (A file system without hard links falls
 * back to O_EXCL create-then-write, and such a file gets the old 10 s grace.)
 *
 * A holder is identified by more than its pid, which pid reuse hands to other processes and which is
 * 1 for every run in a container: also by its start time (field 22 of /proc/<pid>/stat, clock
 * ticks since boot) and the boot id (/proc/sys/kernel/random/boot_id). On this host a lock is
 * stale when it was taken in another boot, or when its pid is gone, a zombie, or a process that
 * started at another time. Where /proc is missing (Windows, macOS) or hides the process (mounted
 * with hidepid), the pid alone is probed (process.kill(pid, 0)), and a lock taken before the
 * last boot by the wall clock is stale. A lock from another host (a shared config directory,
 * or a container recreated with a new hostname) cannot have its pid checked; it is taken over only
 * once it is older than any run could last (24 h). Takeover itself is serialised by
 * `<name>.lock.takeover`, created the same way, so two runs that find the same stale lock cannot
 * both win. A guard left by a run that died taking over names its holder and is removed as soon as
 * that holder is gone (after 30 s when its holder cannot be told: another host's). A live
 * holder's guard on this host is never removed: waiting for it is bounded like waiting for a lock.
 *
 * The locks directory is part of the config dir's trust boundary (store/trust.ts): checked before
 * anything is created, read or removed in it, so a user who can write the config dir cannot make
 * `locks` a link and have root create, read and unlink files elsewhere. Lock files are read
 * without following a symlink, without blocking on a FIFO, and only up to a small cap.
 *
 * Locks are not re-entrant: a second acquire of the same name in the same process waits or fails.
 */
import { randomBytes } from 'node:crypto';
import { codeOf, link, localErrorFor, open, readFile, readdir, rename, stat, unlink, writeFile } from './fs.js';
import fs, { unlinkSync } from 'node:fs';
import { hostname as osHostname, uptime } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AbortedError, LocalError, throwIfAborted } from '../errors.js';
import { ensureDir, isProcessAlive } from './atomic-write.js';
import { locksDir } from './layout.js';
import { assertTrustedDirectory } from './trust.js';

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
  /** Start time of the holder process, clock ticks since boot (/proc/<pid>/stat); absent without /proc. */
  start?: string;
  /** The boot the lock was taken in (/proc/sys/kernel/random/boot_id); absent without /proc. */
  bootId?: string;
}

const LOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,240}$/;
// Only without hard links: a holder between open('wx') and its write has an empty file; allow it this long.
const EMPTY_LOCK_GRACE_MS = 10_000;
// A takeover guard is held for a few file operations; older than this its owner died mid-way.
const GUARD_STALE_MS = 30_000;
// Clock skew allowance when comparing a lock's start time with the boot time.
const BOOT_SLACK_MS = 60_000;
// Longer than any run: renew waits at most an hour for its lock, hooks and polling are bounded.
const FOREIGN_LOCK_MAX_AGE_MS = 24 * 60 * 60_000;
// A lock or guard being written, `.new-<host>-<pid>-<start>-<hex>`: the name tells whether its
// writer still runs (only this host's can be checked).
const TEMP_NAME = /^\.new-(.+)-(\d+)-(\d+|x)-[0-9a-f]{12}$/;
// link(2) errors that mean "no hard links on this file system" (FAT, some network shares).
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
// A record is under 200 bytes; more than this is garbage, not a holder.
const MAX_RECORD_BYTES = 512;
// A host name in the record: `-` when os.hostname() is empty, so the fields after it stay in place.
const NO_HOSTNAME = '-';
// Absent on Windows: 0 leaves the flag out (no FIFOs or symlinks acmecli could meet there unasked).
const READ_RECORD = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

export async function acquireLock(configDir: string, name: string, options: AcquireLockOptions): Promise<Lock> {
  if (!LOCK_NAME.test(name)) throw new Error(`invalid lock name ${JSON.stringify(name)}`);
  const dir = locksDir(configDir);
  // Before ensureDir follows a link at `locks`: every caller (issue, revoke, renew) is covered.
  assertTrustedDirectory(dir);
  await ensureDir(dir, 0o700);
  const path = join(dir, `${name}.lock`);
  const deadline = Date.now() + Math.max(0, options.timeoutMs);
  let pollMs = options.pollMs ?? 200;
  let waiting = false;
  // Another run taking over normally holds its guard for a few file operations; one that holds it
  // longer (stopped, a hung disk) is waited for like a holder, and without --wait for at most this.
  const takeoverDeadline = options.wait ? deadline : Date.now() + GUARD_STALE_MS;
  for (;;) {
    throwIfAborted(options.signal);
    const lock = await tryCreate(path);
    if (lock !== undefined) {
      await removeDeadDebris(dir);
      return lock;
    }

    const holder = await readHolder(path);
    if (holder === 'gone') continue;
    if (await isStale(path, holder)) {
      if (await takeOver(path, holder)) continue;
      if (Date.now() >= takeoverDeadline) {
        throw new LocalError(`timed out waiting for another acmecli run to take over the stale lock ${name}`, {
          hint: `if no acmecli is running, remove ${path}.takeover`,
        });
      }
      // Another run is taking over right now: give it a moment instead of spinning.
      await delay(50);
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
      options.onWait?.(typeof holder === 'string' ? undefined : holder);
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
  return typeof holder === 'string' ? undefined : holder;
}

async function tryCreate(path: string): Promise<Lock | undefined> {
  const token = randomBytes(8).toString('hex');
  if (!(await createComplete(path, await holderRecord(token)))) return undefined;
  return createLock(path, token);
}

async function holderRecord(token: string): Promise<string> {
  const self = await ownIdentity();
  return `${process.pid} ${osHostname() || NO_HOSTNAME} ${new Date().toISOString()} ${token} ${self.start ?? '-'} ${self.bootId ?? '-'}\n`;
}

/** Directories where link(2) worked, or failed for want of hard links, in this process. */
const linksWork = new Map<string, boolean>();

/**
 * Creates `path` holding `content`, complete or not at all: written under a temp name, then
 * linked, which fails with EEXIST where rename would replace. Returns false when `path` exists.
 * No fsync: a lock outlives no boot (the boot id tells), and an empty file after a power loss
 * is debris like any other.
 */
async function createComplete(path: string, content: string): Promise<boolean> {
  const dir = dirname(path);
  if (linksWork.get(dir) === false) return createInPlace(path, content);
  const temp = join(dir, await tempName());
  try {
    await writeFile(temp, content, { flag: 'wx', mode: 0o644 });
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw localErrorFor('write lock', path, error);
  }
  try {
    await link(temp, path);
    linksWork.set(dir, true);
    return true;
  } catch (error) {
    const code = codeOf(error);
    if (code === 'EEXIST') return false;
    if (code === undefined || !NO_LINKS.has(code)) throw localErrorFor('create lock', path, error);
    linksWork.set(dir, false);
    return createInPlace(path, content);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Where there are no hard links: O_EXCL create, then write (readers may see it empty meanwhile). */
async function createInPlace(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return false;
    throw localErrorFor('create lock', path, error);
  }
  try {
    await handle.writeFile(content);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw localErrorFor('write lock', path, error);
  }
  await handle.close();
  return true;
}

/**
 * Whether every lock file of `dir` was created by link (so one that is empty or cut short is
 * debris). Known once a link worked here; otherwise tried once with two temp files.
 */
async function createdByLink(dir: string): Promise<boolean> {
  const known = linksWork.get(dir);
  if (known !== undefined) return known;
  const first = join(dir, await tempName());
  const second = join(dir, await tempName());
  try {
    await writeFile(first, '', { flag: 'wx', mode: 0o644 });
    await link(first, second);
    linksWork.set(dir, true);
    return true;
  } catch (error) {
    const code = codeOf(error);
    if (code !== undefined && NO_LINKS.has(code)) linksWork.set(dir, false);
    return false;
  } finally {
    await unlink(second).catch(() => undefined);
    await unlink(first).catch(() => undefined);
  }
}

async function tempName(): Promise<string> {
  return `.new-${tempHost()}-${process.pid}-${(await ownIdentity()).start ?? 'x'}-${randomBytes(6).toString('hex')}`;
}

function tempHost(): string {
  return (
    osHostname()
      .replace(/[^A-Za-z0-9.-]/g, '_')
      .slice(0, 64) || '_'
  );
}

/**
 * Removes what runs on this host that died while taking a lock left behind: temp files they had
 * not linked or removed yet (a live writer's is kept: it is about to link it), and takeover
 * guards (the lock they guarded may be gone already, so no later takeover would meet them).
 */
async function removeDeadDebris(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const self = await ownIdentity();
  const host = tempHost();
  for (const name of names) {
    if (name.endsWith('.lock.takeover')) {
      await removeDeadGuard(join(dir, name), false).catch(() => undefined);
      continue;
    }
    const match = TEMP_NAME.exec(name);
    if (match === null || match[1] !== host) continue;
    const pid = Number(match[2]);
    const start = match[3] === 'x' ? undefined : match[3];
    if (pid === process.pid && start === self.start) continue;
    if (await processGone(pid, start)) await unlink(join(dir, name)).catch(() => undefined);
  }
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
        text = readRecord(path);
      } catch {
        return;
      }
      if (parseHolder(text)?.token !== token) return;
      try {
        unlinkSync(path);
      } catch {
        // Left behind: the next run finds our process gone and takes it over.
      }
    },
  };
}

/** `garbled`: read, but not a whole record (empty, cut short); `unreadable`: the read failed. */
type HolderState = LockHolder | 'garbled' | 'unreadable' | 'gone';

async function readHolder(path: string): Promise<HolderState> {
  let text: string;
  try {
    text = readRecord(path);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return 'gone';
    if (codeOf(error) === 'EPERM' || codeOf(error) === 'EBUSY') return 'unreadable';
    throw localErrorFor('read lock', path, error);
  }
  return parseHolder(text) ?? 'garbled';
}

/**
 * The text of a lock or guard file, read by one synchronous open + fstat + read (release runs from
 * an 'exit' handler). Only a regular file, at most MAX_RECORD_BYTES + 1 bytes of it: acmecli writes
 * nothing else there, and a symlink to /dev/zero or a FIFO must neither exhaust memory nor block.
 * Such a file is a clear error, not debris to remove: only root can have put it in a directory
 * that passed the trust check, and a lock taken over must be one acmecli could have written.
 */
function readRecord(path: string): string {
  let fd: number;
  try {
    fd = fs.openSync(path, READ_RECORD);
  } catch (error) {
    // O_NOFOLLOW on a symlink: ELOOP on Linux and macOS, EMLINK on FreeBSD.
    if (codeOf(error) === 'ELOOP' || codeOf(error) === 'EMLINK') throw notALockFile(path, 'is a symbolic link');
    throw error;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw notALockFile(path, 'is not a regular file');
    const buffer = Buffer.alloc(MAX_RECORD_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    fs.closeSync(fd);
  }
}

function notALockFile(path: string, what: string): LocalError {
  return new LocalError(`${path} ${what}, not a lock file acmecli wrote`, {
    hint: `if no acmecli is running, remove ${path}`,
  });
}

function parseHolder(text: string): LockHolder | undefined {
  // Every writer ends the record with a newline: without it the record was cut short.
  if (!text.endsWith('\n')) return undefined;
  // Single spaces: an empty host name written by older versions leaves an empty field in place.
  const parts = text.slice(0, -1).split(' ');
  if (parts.length < 4) return undefined;
  const [pidText, hostname, startedAt, token, start, bootId] = parts as [
    string,
    string,
    string,
    string,
    string?,
    string?,
  ];
  const pid = Number(pidText);
  if (!/^\d+$/.test(pidText) || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return {
    pid,
    hostname: hostname === NO_HOSTNAME ? '' : hostname,
    startedAt,
    token,
    // Records of older versions, and of hosts without /proc, have no identity beyond the pid.
    ...(start !== undefined && /^\d+$/.test(start) ? { start } : {}),
    ...(bootId !== undefined && bootId !== '-' ? { bootId } : {}),
  };
}

async function isStale(path: string, holder: LockHolder | 'garbled' | 'unreadable'): Promise<boolean> {
  if (holder === 'garbled' && (await createdByLink(dirname(path)))) return true;
  if (typeof holder === 'string') {
    // Without hard links: either a holder between create and write, or one that died there.
    try {
      return Date.now() - (await stat(path)).mtimeMs > EMPTY_LOCK_GRACE_MS;
    } catch {
      return false;
    }
  }
  if (holder.hostname !== osHostname()) {
    const started = Date.parse(holder.startedAt);
    return Number.isFinite(started) && Date.now() - started > FOREIGN_LOCK_MAX_AGE_MS;
  }
  return holderGone(holder);
}

interface Identity {
  start?: string;
  bootId?: string;
}

let ownIdentityPromise: Promise<Identity> | undefined;

/** This process as others will check it; empty where /proc is missing (Windows, macOS). */
function ownIdentity(): Promise<Identity> {
  ownIdentityPromise ??= (async () => {
    const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
    if (!/^[0-9a-f-]{16,64}$/.test(bootId)) return {};
    // /proc/<our pid> must be this process: not so with a /proc of another pid namespace (the
    // host's, mounted into a container). Then only the boot id is recorded.
    const [self, byPid] = await Promise.all([readProcStat('self'), readProcStat(String(process.pid))]);
    const same = typeof self === 'object' && typeof byPid === 'object' && self.start === byPid.start;
    return same ? { start: self.start, bootId } : { bootId };
  })();
  return ownIdentityPromise;
}

interface ProcStat {
  state: string;
  start: string;
}

async function readProcStat(pid: string): Promise<ProcStat | 'gone' | 'unknown'> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    return codeOf(error) === 'ENOENT' || codeOf(error) === 'ESRCH' ? 'gone' : 'unknown';
  }
  // Field 2, the command name, is in parentheses and may hold spaces and ')' itself: the
  // fields after it start after the last ')'. There, field 3 is the state, field 22 the start time.
  const close = text.lastIndexOf(')');
  if (close < 0) return 'unknown';
  const fields = text.slice(close + 2).split(' ');
  const [state, start] = [fields[0], fields[19]];
  if (state === undefined || start === undefined || !/^\d+$/.test(start)) return 'unknown';
  return { state, start };
}

/** Whether the process that wrote `holder` (a lock of this host) no longer runs. */
async function holderGone(holder: LockHolder): Promise<boolean> {
  const { bootId } = await ownIdentity();
  if (holder.bootId !== undefined && bootId !== undefined) {
    // Taken in another boot: whatever has that pid now is another process.
    return holder.bootId !== bootId || (await processGone(holder.pid, holder.start));
  }
  if (await processGone(holder.pid, undefined)) return true;
  // Without boot ids: a lock the wall clock dates before the last boot is from an earlier one.
  const started = Date.parse(holder.startedAt);
  const bootedAt = Date.now() - uptime() * 1000;
  return Number.isFinite(started) && started < bootedAt - BOOT_SLACK_MS;
}

/**
 * Whether process `pid`, started at `start` (clock ticks since boot, when known), is gone: no
 * such pid, a zombie, or a process that started at another time and only has its pid (pid reuse,
 * or pid 1 of every run in a container). Where /proc cannot tell (missing, or hidepid hides the
 * process), the pid alone is probed.
 */
async function processGone(pid: number, start: string | undefined): Promise<boolean> {
  if (start !== undefined && (await ownIdentity()).start !== undefined) {
    const running = await readProcStat(String(pid));
    if (typeof running === 'object') return running.state === 'Z' || running.state === 'X' || running.start !== start;
  }
  return !isProcessAlive(pid);
}

/**
 * Removes a stale lock file under the takeover guard, and only if it still is the file judged
 * stale: a lock file is removed only by its owner (dead here) or by a guard holder, so what we
 * re-read under the guard cannot change before our unlink. Returns false when another run holds
 * the guard (the caller retries shortly).
 */
async function takeOver(path: string, judged: LockHolder | 'garbled' | 'unreadable'): Promise<boolean> {
  const guard = `${path}.takeover`;
  // Names its holder, so a run that finds it left behind by a dead one need not wait for it to age.
  if (!(await createComplete(guard, await holderRecord(randomBytes(8).toString('hex'))))) return removeDeadGuard(guard);
  try {
    const now = await readHolder(path);
    const same = typeof judged === 'string' ? now === judged : typeof now === 'object' && now.token === judged.token;
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
 * A takeover guard left by a run that died taking over: removed at once when its holder is gone
 * (same host) or it is debris (empty where guards are linked into place), otherwise once it is
 * older than GUARD_STALE_MS (another host's, or empty without hard links) unless `orOld` is false.
 * Returns true when the caller may retry at once.
 */
async function removeDeadGuard(guard: string, orOld = true): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    text = readRecord(guard);
    mtimeMs = (await stat(guard)).mtimeMs;
  } catch (error) {
    if (error instanceof LocalError) throw error;
    // Gone already: retry from the top.
    return true;
  }
  const owner = parseHolder(text);
  const local = owner !== undefined && owner.hostname === osHostname();
  const dead = owner === undefined ? await createdByLink(dirname(guard)) : local && (await holderGone(owner));
  // The age rule is only for a holder that cannot be checked (another host's, or unnamed where
  // there are no hard links). A live holder here is mid-takeover: removing its guard would let a
  // second run take over too and remove the lock the first has just taken.
  if (!dead && (!orOld || local || Date.now() - mtimeMs <= GUARD_STALE_MS)) return false;
  // Moved aside first: of several runs that find the same dead guard only one removes it, and a
  // fresh guard another run created in its place meanwhile is recognised and put back.
  const aside = `${guard}.${randomBytes(6).toString('hex')}`;
  try {
    await rename(guard, aside);
  } catch {
    return true;
  }
  let moved: string | undefined;
  try {
    moved = readRecord(aside);
  } catch {
    // Unreadable: not the guard judged dead, so it is put back below.
  }
  if (moved !== text) await link(aside, guard).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return moved === text;
}

function heldError(name: string, path: string, holder: LockHolder | 'garbled' | 'unreadable'): LocalError {
  return new LocalError(`another acmecli run holds ${name}${describeHolder(holder)}`, {
    // No command has a --wait flag (renew waits by itself): say what the user can actually do.
    hint: `run the command again once it has finished, or remove ${path} if no acmecli is running`,
  });
}

function describeHolder(holder: LockHolder | 'garbled' | 'unreadable'): string {
  if (typeof holder === 'string') return '';
  const host = holder.hostname === osHostname() ? '' : ` on ${holder.hostname}`;
  return ` (pid ${holder.pid}${host}, since ${holder.startedAt})`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}
