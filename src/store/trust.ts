/**
 * What acmecli reads from its config directory decides what it runs: renewal.json holds reload
 * and hook command lines, config.ini any option, account.key signs for the account. Run as root,
 * acmecli therefore reads nothing another user could have written (issue 12 §3), the rule of
 * OpenSSH's StrictModes (auth.c, secure_permissions / safe_path):
 *
 * - Checked: every directory on the file's path from `/` down, the config dir's ancestors
 *   included, since whoever can rename an ancestor can replace the whole tree beneath it; then the
 *   file itself. A symbolic link on the way is followed and its target's path checked too (the
 *   link itself lives in a directory already checked).
 * - Allowed owner: root or the user running acmecli. Not allowed: write access for others, or for a
 *   group other than gid 0. A directory with the sticky bit (/tmp) may be writable by others: its
 *   entries can then be renamed or removed only by their owners, and each entry on the path is
 *   checked for its own owner.
 * - Runs as an ordinary user (~/.config/acmecli) apply the same rule with that user as the allowed
 *   owner, so another user cannot plant a reload command there either. Their own primary group may
 *   also write, as under the user-private-group scheme (a group of one, umask 002 on Ubuntu), the
 *   simplification of Debian's OpenSSH "user-group-modes" patch.
 * - Windows is not checked: permissions there are ACLs (atomicWrite makes acmecli's own files
 *   owner-only), and mode bits say nothing about them.
 *
 * A directory found safe is remembered for the rest of the process (each path is lstat'ed once per
 * run: `renew` over a thousand lineages adds three lstat calls per lineage for its directories and
 * one per file read); a refusal is not remembered. A file is checked each time it is read.
 *
 * Reads are capped as well: no file acmecli keeps is anywhere near 1 MiB, and a huge or endless
 * file must fail at once rather than after reading hundreds of megabytes.
 */
import fs from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { LocalError } from '../errors.js';
import { shQuote } from '../schedule/quoting.js';
import { codeOf, localErrorFor } from './fs.js';

/** The most acmecli reads of one file it keeps (config.ini, JSON records, keys, certificates). */
export const MAX_STORED_FILE_BYTES = 1024 * 1024;

const checkPermissions = process.platform !== 'win32';
const trustedDirectories = new Set<string>();
const NO_THROW = { throwIfNoEntry: false } as const;

/**
 * Throws LocalError when `dir` or a directory above it could be changed by another user; a missing
 * directory (or a missing part of its path) is fine: nothing can be read from it.
 */
export function assertTrustedDirectory(dir: string): void {
  if (!checkPermissions) return;
  try {
    checkDirectory(dir, dir);
  } catch (error) {
    throw localErrorFor('read', dir, error);
  }
}

/**
 * Reads a file acmecli keeps (or config.ini) as UTF-8 after the checks above, or undefined when it
 * does not exist. LocalError naming the path when another user could have written it, when it is
 * larger than MAX_STORED_FILE_BYTES, or when it cannot be read.
 */
export function readTrustedFile(path: string): string | undefined {
  try {
    // Checked by name, then read by name. No other user can make the name lead elsewhere in
    // between: every directory on the way was found to be changeable by trusted users only, and
    // only the file's (trusted) owner can change its mode. One stat and Node's single-call UTF-8
    // read cost less than open + fstat + read + close from JavaScript, a thousand times over in
    // `renew`.
    if (checkPermissions) checkDirectory(parentOf(path), path);
    let target = path;
    let info = fs.lstatSync(path, NO_THROW);
    if (info === undefined) return undefined;
    let type = info.mode & fs.constants.S_IFMT;
    if (type === fs.constants.S_IFLNK) {
      // The live files are links into archive/: the link sits in a directory checked above; what
      // it leads to gets the same checks under its real path.
      target = fs.realpathSync(path);
      if (checkPermissions) checkDirectory(parentOf(target), path);
      info = fs.lstatSync(target);
      type = info.mode & fs.constants.S_IFMT;
    }
    if (checkPermissions) {
      const problem = problemWith(info, false);
      if (problem !== undefined) throw refusal(path, path, problem);
    }
    // A directory fails in the read below, with the system's own reason.
    if (type !== fs.constants.S_IFREG && type !== fs.constants.S_IFDIR)
      throw new LocalError(`${path}: not a regular file`);
    if (info.size > MAX_STORED_FILE_BYTES) throw tooLarge(path, info.size);
    return fs.readFileSync(target, 'utf8');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw localErrorFor('read', path, error);
  }
}

function checkDirectory(dir: string, reading: string): void {
  walkPath(dir, trustedDirectories, (path, info) => {
    const problem = problemWith(info, true);
    if (problem !== undefined) throw refusal(reading, path, problem);
  });
}

/**
 * Calls `visit` with every existing directory on `dir`'s path from `/` down, `dir` included, each
 * lstat'ed; a symbolic link is not visited but followed, and its target's path walked the same
 * way. `remember` holds directories already found fine (skipped, and added to once visited).
 */
function walkPath(dir: string, remember: Set<string> | undefined, visit: (dir: string, info: fs.Stats) => void): void {
  if (remember?.has(dir)) return;
  if (!dir.includes('/')) {
    // A relative path's first component (or `.`, `..`): from here up, the absolute path.
    walkPath(resolve(dir), remember, visit);
    remember?.add(dir);
    return;
  }
  const parent = parentOf(dir);
  if (parent !== dir) walkPath(parent, remember, visit);
  let info: fs.Stats | undefined;
  try {
    info = fs.lstatSync(dir, NO_THROW);
  } catch (error) {
    if (codeOf(error) !== 'ENOTDIR') throw error;
  }
  // Missing: nothing below it can be read either. Not remembered: it may be created later.
  if (info === undefined) return;
  if ((info.mode & fs.constants.S_IFMT) === fs.constants.S_IFLNK) {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return;
      throw localErrorFor('read', dir, error);
    }
    walkPath(real, remember, visit);
  } else {
    visit(dir, info);
  }
  remember?.add(dir);
}

/**
 * Who besides root (and the user running acmecli) can change which directory the path `dir` leads
 * to, by the rule above: the owner of a directory on the way, or of `dir` itself when it sits in
 * a sticky directory others can write, can rename it and put a link in its place. What `dir`
 * itself lets others do inside it is not counted: writes in it are anchored to the open directory
 * (store/fs.ts). Empty on Windows, where the rule is not applied.
 */
export interface PathChangers {
  /** Each such user (uid) with the first directory on the path it can change. */
  users: Map<number, string>;
  /** A directory on the way that a group or every user can write, without the sticky bit. */
  shared?: { dir: string; why: string };
}

export function whoCanChangePathTo(dir: string): PathChangers {
  const changers: PathChangers = { users: new Map() };
  if (!checkPermissions) return changers;
  const absolute = resolve(dir);
  let real: string | undefined;
  try {
    real = fs.realpathSync(absolute);
  } catch {
    // Missing: every directory that exists on the way is an ancestor, checked in full.
  }
  try {
    walkPath(absolute, undefined, (path, info) => {
      const problem = problemWith(info, true);
      if (problem === undefined) return;
      if (path === real) {
        // Its owner can rename it only where the parent lets others add and rename entries.
        const parent = fs.statSync(parentOf(path));
        const openSticky = (parent.mode & 0o1000) !== 0 && (parent.mode & 0o022) !== 0;
        if (!openSticky || problem.owner === undefined) return;
      } else if (problem.writable !== undefined && changers.shared === undefined) {
        changers.shared = { dir: path, why: problem.writable };
      }
      if (problem.owner !== undefined && !changers.users.has(problem.owner)) changers.users.set(problem.owner, path);
    });
  } catch (error) {
    // A link on the way turned into something else while it was followed (readlink: EINVAL) or
    // vanished: the path is being changed under us, by one of those already found able to change
    // it. Their answer stands; acting as that user (or refusing) is safe whatever the path is now.
    if (changers.users.size > 0 || changers.shared !== undefined) return changers;
    throw localErrorFor('read', absolute, error);
  }
  return changers;
}

/**
 * Refuses (LocalError) an output file acmecli writes by path outside its config dir (`--key-file`
 * and the other copies) when another user can change the path to its directory: root would then
 * write (and chmod) wherever that user points it, /etc/ssl/private included. Checked before the
 * order, so no certificate is issued for nothing. The directory itself may be writable by others:
 * the write inside it is anchored (atomicWriteIn).
 */
export function assertOutputDirectory(file: string, option: string): void {
  const dir = parentOf(resolve(file));
  const changer = describeChangers(whoCanChangePathTo(dir));
  if (changer === undefined) return;
  throw new LocalError(
    `refusing ${option} ${file}: ${changer.dir} ${changer.why}, so another user can replace ${dir} with a link to any directory`,
    {
      hint: `write it under a directory only ${uid === 0 ? 'root' : 'root or you'} can change, or ${changer.fix}`,
    },
  );
}

/**
 * The first directory on the path that others can change, why, and the command that stops it: the
 * shared directory first (no single user to blame), else the first user's. Undefined when none.
 */
export function describeChangers(changers: PathChangers): { dir: string; why: string; fix: string } | undefined {
  if (changers.shared !== undefined) {
    return { ...changers.shared, fix: `chmod go-w ${quote(changers.shared.dir)}` };
  }
  for (const [owner, dir] of changers.users) {
    return { dir, why: `is owned by uid ${owner}`, fix: `chown ${ownerName()} ${quote(dir)}` };
  }
  return undefined;
}

interface Problem {
  why: string;
  fix: string[];
  /** The owner, when neither root nor the user running acmecli. */
  owner?: number;
  /** Why a group or every user can write it, when one can. */
  writable?: string;
}

// The user acmecli runs as, read once: a process's identity does not change during a run.
const uid = process.geteuid?.() ?? 0;
const gid = process.getegid?.() ?? 0;

function problemWith(info: fs.Stats, directory: boolean): Problem | undefined {
  // The usual case first, without building a message: ours or root's, writable by the owner only.
  if ((info.uid === 0 || info.uid === uid) && (info.mode & 0o022) === 0) return undefined;
  const fix: string[] = [];
  const reasons: string[] = [];
  let owner: number | undefined;
  let writable: string | undefined;
  if (info.uid !== 0 && info.uid !== uid) {
    reasons.push(`is owned by uid ${info.uid}, not ${uid === 0 ? 'root' : `root or uid ${uid}`}`);
    fix.push('chown');
    owner = info.uid;
  }
  const sticky = directory && (info.mode & 0o1000) !== 0;
  const mode = `mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')}`;
  if (!sticky && (info.mode & 0o002) !== 0) {
    writable = `is writable by other users (${mode})`;
    reasons.push(writable);
    fix.push('chmod');
  } else if (!sticky && (info.mode & 0o020) !== 0 && info.gid !== 0 && (uid === 0 || info.gid !== gid)) {
    writable = `is writable by group ${info.gid} (${mode})`;
    reasons.push(writable);
    fix.push('chmod');
  }
  if (reasons.length === 0) return undefined;
  return {
    why: reasons.join(', and '),
    fix,
    ...(owner !== undefined ? { owner } : {}),
    ...(writable !== undefined ? { writable } : {}),
  };
}

function refusal(reading: string, culprit: string, problem: Problem): LocalError {
  const quoted = quote(culprit);
  const commands = problem.fix.map((fix) =>
    fix === 'chmod' ? `chmod go-w ${quoted}` : `chown ${ownerName()} ${quoted}`,
  );
  const subject = culprit === reading ? `${reading}: it` : `${reading}: ${culprit}`;
  return new LocalError(`refusing to read ${subject} ${problem.why}`, {
    hint: `${commands.join(' && ')} (acmecli${uid === 0 ? ' run as root' : ''} reads only files and directories no other user can change)`,
  });
}

function ownerName(): string {
  if (uid === 0) return 'root';
  try {
    return userInfo().username;
  } catch {
    return String(uid);
  }
}

function quote(path: string): string {
  try {
    return shQuote(path);
  } catch {
    // Control characters: no shell word to offer, the path as JSON shows them.
    return JSON.stringify(path);
  }
}

function tooLarge(path: string, size: number): LocalError {
  return new LocalError(
    `${path}: the file is ${formatSize(size)}, more than the ${formatSize(MAX_STORED_FILE_BYTES)} acmecli reads of one of its files`,
  );
}

/** `64 KiB`, `1 MiB`, `700 bytes`: sizes and limits in messages. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

/** The directory part of a path whose separators are `/`: `.` for a bare name, `/` for `/x`. */
function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  if (slash < 0) return '.';
  return slash === 0 ? '/' : path.slice(0, slash);
}
