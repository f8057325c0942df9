/**
 * The file-system calls acmecli makes, as promises over node:fs's callback API, and the one way
 * their failures become messages (reasonOf, localErrorFor).
 *
 * Not node:fs/promises: in Node 24 loading it also loads readline, the REPL history and the file
 * watchers (for FileHandle.readLines and fs.watch), resident memory every run would pay for
 * nothing. An open file here is a descriptor with the three operations the store uses.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { LocalError } from '../errors.js';

export const access = promisify(fs.access);
export const chmod = promisify(fs.chmod);
export const link = promisify(fs.link);
export const lstat = promisify(fs.lstat);
export const mkdir = promisify(fs.mkdir);
export const mkdtemp = promisify(fs.mkdtemp);
export const readdir = promisify(fs.readdir);
// The callback API takes a signal as fs/promises does; @types/node's promisified type omits it.
export const readFile = promisify(fs.readFile) as typeof import('node:fs/promises').readFile;
export const readlink = promisify(fs.readlink);
export const rename = promisify(fs.rename);
export const rm = promisify(fs.rm);
export const rmdir = promisify(fs.rmdir);
export const stat = promisify(fs.stat);
export const symlink = promisify(fs.symlink);
export const unlink = promisify(fs.unlink);
export const writeFile = promisify(fs.writeFile);
const openDescriptor = promisify(fs.open);
const fsync = promisify(fs.fsync);
const close = promisify(fs.close);
const fchmod = promisify(fs.fchmod);
const fstat = promisify(fs.fstat);
const read = promisify(fs.read);

/** What identifies a file whatever name it has: compared after a rename into a directory others can write. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

export interface OpenFile {
  writeFile(data: string | Uint8Array): Promise<void>;
  /** fsync(2): the data is on disk when this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
  /** fchmod(2): on what was opened, whatever its name points at by now. */
  chmod(mode: number): Promise<void>;
  /** fstat(2), as the identity to compare a name against later. */
  identity(): Promise<FileIdentity>;
}

/** `flags` as fs.open takes them: a string ('wx') or numeric O_* flags (see CREATE_NEW). */
export async function open(path: string, flags: string | number, mode?: number): Promise<OpenFile> {
  const fd = await openDescriptor(path, flags, mode);
  return {
    writeFile: (data) => writeFile(fd, data),
    sync: () => fsync(fd),
    close: () => close(fd),
    chmod: (newMode) => fchmod(fd, newMode),
    identity: async () => identityOf(await fstat(fd, { bigint: true })),
  };
}

// Absent on Windows, where neither exists: 0 leaves the flag out.
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_DIRECTORY = fs.constants.O_DIRECTORY ?? 0;
/**
 * A new file, never an existing one or a symlink's target: O_EXCL fails on any existing name
 * (a planted symlink included) and O_NOFOLLOW says so explicitly.
 */
export const CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW;
/** Create or truncate, but never through a symlink planted at the name. */
export const CREATE_OR_TRUNCATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | O_NOFOLLOW;

function identityOf(stats: fs.BigIntStats): FileIdentity {
  return { dev: stats.dev, ino: stats.ino };
}

/**
 * A directory held open, so that names are resolved in exactly that directory even if the path
 * that led to it is renamed or replaced by a symlink afterwards (openat(2) semantics).
 *
 * Node has no openat. On Linux, proc(5) documents /proc/self/fd/<fd> as a link to the open file
 * itself, so `/proc/self/fd/<fd>/<name>` names <name> inside the directory held by <fd>; systemd's
 * chase() and other tools anchor this way. Elsewhere (macOS, Windows, Linux without /proc) `at()`
 * joins the name to the path the directory was opened by: files are still created
 * O_EXCL|O_NOFOLLOW with their mode set on the descriptor, but a user who can rename a parent of
 * the directory can redirect later steps. Windows needs a privilege to create symlinks, and
 * `openDirectoryIn` refuses junctions (lstat reports them as links), but a junction swapped in
 * between two steps is not caught there: output paths must not be under directories other users
 * can write.
 */
export interface Directory {
  /** The path it was opened by: for messages only, never to reach it again. */
  readonly path: string;
  /** A path for `name` inside this very directory (a single component: no `/`). */
  at(name: string): string;
  /** fstat(2) of the directory. */
  stat(): Promise<fs.BigIntStats>;
  /** fchmod(2) of the directory. No-op on Windows, where modes mean nothing. */
  chmod(mode: number): Promise<void>;
  /** The entries, read through the descriptor. */
  list(): Promise<fs.Dirent[]>;
  /** fsync(2) of the directory, so renames and creations in it are durable. No-op on Windows. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

let procFdWorks: boolean | undefined;

/** Whether /proc/self/fd/<fd> resolves to the open directory: checked once, on the first one opened. */
function canAnchor(fd: number): boolean {
  if (procFdWorks === undefined) {
    try {
      const viaProc = fs.statSync(`/proc/self/fd/${fd}`, { bigint: true });
      const held = fs.fstatSync(fd, { bigint: true });
      procFdWorks = process.platform === 'linux' && viaProc.dev === held.dev && viaProc.ino === held.ino;
    } catch {
      procFdWorks = false;
    }
  }
  return procFdWorks;
}

/**
 * Opens the directory at `path`, following symlinks in it: the path is the caller's (an
 * administrator's configuration). Everything below it is reached through the returned handle.
 */
export function openDirectory(path: string): Promise<Directory> {
  return openDirectoryAt(path, path, false);
}

/**
 * Opens the directory `name` inside `parent` without following a symlink there: ENOTDIR (or
 * ELOOP) when `name` is a symlink or not a directory (`symlinkTarget` tells which).
 */
export function openDirectoryIn(parent: Directory, name: string): Promise<Directory> {
  return openDirectoryAt(parent.at(name), childName(parent.path, name), true);
}

async function openDirectoryAt(path: string, displayPath: string, noFollow: boolean): Promise<Directory> {
  if (process.platform === 'win32') {
    // Windows cannot open a directory as a file; everything stays path-based there.
    const info = await (noFollow ? lstat : stat)(path);
    if (!info.isDirectory()) throw Object.assign(new Error(`not a directory: ${displayPath}`), { code: 'ENOTDIR' });
    return pathDirectory(path, displayPath, undefined);
  }
  const fd = await openDescriptor(path, fs.constants.O_RDONLY | O_DIRECTORY | (noFollow ? O_NOFOLLOW : 0));
  if (!canAnchor(fd)) return pathDirectory(path, displayPath, fd);
  const anchor = `/proc/self/fd/${fd}`;
  return {
    path: displayPath,
    at: (name) => `${anchor}/${checkedName(name)}`,
    stat: () => fstat(fd, { bigint: true }),
    chmod: (mode) => fchmod(fd, mode),
    list: () => readdir(anchor, { withFileTypes: true }),
    sync: () => syncDirectory(fd),
    close: () => close(fd),
  };
}

/** The fallback of `Directory`: names are joined to the path again on every use. */
function pathDirectory(path: string, displayPath: string, fd: number | undefined): Directory {
  return {
    path: displayPath,
    at: (name) => childName(path, checkedName(name)),
    stat: () => (fd === undefined ? stat(path, { bigint: true }) : fstat(fd, { bigint: true })),
    chmod: (mode) => (fd === undefined ? Promise.resolve() : fchmod(fd, mode)),
    list: () => readdir(path, { withFileTypes: true }),
    sync: () => (fd === undefined ? Promise.resolve() : syncDirectory(fd)),
    close: () => (fd === undefined ? Promise.resolve() : close(fd)),
  };
}

/** File systems that cannot sync a directory (EINVAL on some network mounts) journal the entry anyway. */
async function syncDirectory(fd: number): Promise<void> {
  try {
    await fsync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw error;
  }
}

function checkedName(name: string): string {
  if (name === '' || name === '..' || /[/\\\0]/.test(name))
    throw new Error(`not a single path component: ${JSON.stringify(name)}`);
  return name;
}

function childName(dir: string, name: string): string {
  return dir.endsWith('/') || dir.endsWith('\\')
    ? `${dir}${name}`
    : `${dir}${process.platform === 'win32' ? '\\' : '/'}${name}`;
}

/**
 * `name` inside `parent` as a directory: created with `mode` (set on its descriptor, past the
 * umask) when missing, opened without following a symlink when present. `created` is true only
 * for a directory this call made, so callers remove only what they created.
 */
export async function makeDirectoryIn(
  parent: Directory,
  name: string,
  mode: number,
): Promise<{ dir: Directory; created: boolean }> {
  let made = true;
  try {
    await mkdir(parent.at(name), { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    made = false;
  }
  const dir = await openDirectoryIn(parent, name);
  // Between mkdir and open, a user who can write `parent` could put a directory of their own in
  // place of ours: owned by them, it is neither chmod-ed nor removed later as "ours".
  const created = made && (process.platform === 'win32' || (await dir.stat()).uid === BigInt(process.geteuid?.() ?? 0));
  try {
    if (created) await dir.chmod(mode);
  } catch (error) {
    await dir.close();
    throw error;
  }
  return { dir, created };
}

/** The target of `name` in `dir` when it is a symlink; undefined when it is anything else or absent. */
export async function symlinkTarget(dir: Directory, name: string): Promise<string | undefined> {
  try {
    // One call, no lstat first: the name can change between two.
    return await readlink(dir.at(name));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Whether `name` in `dir` is still the file `identity` was taken from (not a symlink or another file put there since). */
export async function isSameFile(dir: Directory, name: string, identity: FileIdentity): Promise<boolean> {
  try {
    const info = await lstat(dir.at(name), { bigint: true });
    return info.isFile() && info.dev === identity.dev && info.ino === identity.ino;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a parent path is not a directory',
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists and is not a directory',
  EBUSY: 'file is in use',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'name too long',
  EIO: 'input/output error',
};

/**
 * The OS reason of a failed call without the path Node puts in its message, `permission denied
 * (EACCES)`: the path of a call inside an open directory is /proc/self/fd/<n>/<name>, which means
 * nothing to a user; callers name the real path.
 */
export function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code !== 'string') return message;
  return `${REASONS[code] ?? message.replace(/^[A-Z]+: /, '').split(',')[0]} (${code})`;
}

/** `cannot write /etc/acmecli/x: permission denied (EACCES)` — one line, path and OS reason. */
export function localErrorFor(action: string, path: string, error: unknown): LocalError {
  if (error instanceof LocalError) return error;
  return new LocalError(`cannot ${action} ${path}: ${reasonOf(error)}`, { cause: error });
}

export function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Whether something is at `path` (a link counts by its target). Nothing there, or a parent that is
 * a file, is false; any other failure (permission denied, I/O error) is a LocalError naming the
 * path, since the answer is not known. Synchronous: one access(2), and `renew` asks per lineage.
 */
export function exists(path: string): boolean {
  try {
    fs.accessSync(path);
    return true;
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw localErrorFor('read', path, error);
  }
}

/** Removes a file; false when there was none. */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false;
    throw localErrorFor('remove', path, error);
  }
}

/** The names of the directories in `dir`, sorted, without hidden ones; [] when `dir` is missing. */
export async function subdirectoryNames(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return [];
    throw localErrorFor('read directory', dir, error);
  }
}

export interface CappedRead {
  bytes: Buffer;
  /** The file holds more than the cap: `bytes` is its first cap + 1 bytes. */
  tooLarge: boolean;
  /** fstat of the opened file (no second look-up by path). */
  stats: fs.Stats;
}

/**
 * Reads a small file the user names (a key file) without trusting its size: at most `maxBytes` + 1
 * bytes are read, so a huge file or /dev/zero costs nothing. Works on pipes too (/dev/stdin,
 * a shell's `<(...)`), whose size stat does not know.
 */
export async function readCapped(path: string, maxBytes: number): Promise<CappedRead> {
  const fd = await openDescriptor(path, 'r');
  try {
    const stats = await fstat(fd);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await read(fd, buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { bytes: buffer.subarray(0, Math.min(length, maxBytes)), tooLarge: length > maxBytes, stats };
  } finally {
    await close(fd);
  }
}
