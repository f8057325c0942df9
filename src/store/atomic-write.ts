/**
 * Every file acmecli writes goes through `atomicWrite`: a reader (a web server, a concurrent
 * `acmecli certificates`) sees either the old content or the new content, never a truncated file,
 * and a crash leaves at most a hidden temp file that `cleanStaleTempFiles` removes later.
 */
import { randomBytes } from 'node:crypto';
import {
  CREATE_NEW,
  codeOf,
  isSameFile,
  localErrorFor,
  mkdir,
  open,
  openDirectory,
  openDirectoryIn,
  readdir,
  removeFile,
  rename,
  stat,
  unlink,
  type Directory,
  type FileIdentity,
} from './fs.js';
import { basename, dirname, join, relative, resolve, sep, win32 } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { userInfo } from 'node:os';
import { LocalError } from '../errors.js';

export interface AtomicWriteOptions {
  /** 0o600 for secrets (private keys), 0o644 by default. */
  mode?: number;
  /**
   * false for caches that can be fetched again: no fsync of the file or its directory. The rename
   * still gives readers the old or the new content; a crash may leave the old or an empty file.
   */
  durable?: boolean;
}

const DEFAULT_FILE_MODE = 0o644;
const isWindows = process.platform === 'win32';

/** Matches names produced by `tempNameFor`: `.<basename>.tmp-<pid>-<hex>`. */
const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;

export function tempNameFor(target: string): string {
  return `.${basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** A mode grants nothing to group or others: treat the file as a secret. */
export function isPrivateMode(mode: number): boolean {
  return (mode & 0o077) === 0;
}

export async function atomicWrite(
  path: string,
  data: string | Buffer,
  options: AtomicWriteOptions = {},
): Promise<void> {
  let dir: Directory;
  try {
    // The directory's own path is the caller's (the config dir, an administrator's --cert-file):
    // followed once, and everything after is done inside the directory it led to.
    dir = await openDirectory(dirname(path));
  } catch (error) {
    throw localErrorFor('write', path, error);
  }
  try {
    await atomicWriteIn(dir, basename(path), data, options);
  } finally {
    await dir.close();
  }
}

/**
 * atomicWrite of `name` inside an open directory, safe when other users can write that directory
 * (a web server's certificate directory): nothing is done by a name another user could point
 * elsewhere. The temp file is created O_EXCL|O_NOFOLLOW, its mode set on the descriptor, and after
 * the rename the name must still be the file written: a symlink or another file renamed into
 * place in between is an error, never a success.
 */
export async function atomicWriteIn(
  dir: Directory,
  name: string,
  data: string | Buffer,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? DEFAULT_FILE_MODE;
  const durable = options.durable ?? true;
  const path = join(dir.path, name);
  const temp = tempNameFor(name);
  let created = false;
  try {
    const handle = await open(dir.at(temp), CREATE_NEW, mode);
    created = true;
    let identity: FileIdentity;
    try {
      // open()'s mode is filtered by the umask and the caller asked for an exact mode. Set on the
      // descriptor, before any data: a chmod by name lands on whatever the name points at by then.
      if (!isWindows) await handle.chmod(mode);
      await handle.writeFile(data);
      // Without fsync a crash after the rename can leave the new name pointing at an empty file.
      if (durable) await handle.sync();
      identity = await handle.identity();
    } finally {
      await handle.close();
    }
    if (isWindows && isPrivateMode(mode)) {
      // Restrict the temp file before it gets the real name, so the target never exists readable.
      await restrictToOwner(dir.at(temp));
    }
    await renameWithRetry(dir.at(temp), dir.at(name));
    created = false;
    // Windows: no symlinks without a privilege, and file identities are not reliable on every
    // file system there (FAT, some shares), so the check would only add false failures.
    if (!isWindows && !(await isSameFile(dir, name, identity))) throw await replacedError(dir, path);
    if (durable) await dir.sync();
  } catch (error) {
    if (created) await unlink(dir.at(temp)).catch(() => undefined);
    throw localErrorFor('write', path, error);
  }
}

/** The file just renamed into `path` is not there: someone who can write its directory swapped it. */
async function replacedError(dir: Directory, path: string): Promise<LocalError> {
  const info = await dir.stat().catch(() => undefined);
  const mode = info === undefined ? 0 : Number(info.mode) & 0o7777;
  const others = info !== undefined && (info.uid !== BigInt(process.geteuid?.() ?? 0) || (mode & 0o022) !== 0);
  const why = others
    ? `${dir.path} is writable by another user (owner uid ${info.uid}, mode ${mode.toString(8).padStart(4, '0')})`
    : `another process replaced it in ${dir.path}`;
  return new LocalError(`cannot write ${path}: it was replaced while being written; ${why}`, {
    hint: `let only root write ${dir.path} (chown root: ${dir.path} && chmod go-w ${dir.path}), or write the file elsewhere`,
  });
}

/**
 * Creates `path` (and missing parents) with `mode`. Only directories created by this call get the
 * mode: an administrator's deliberate permissions on an existing directory are left alone.
 */
export async function ensureDir(path: string, mode = 0o700): Promise<void> {
  let first: string | undefined;
  try {
    first = await mkdir(path, { recursive: true, mode });
  } catch (error) {
    throw localErrorFor('create directory', path, error);
  }
  if (first === undefined) {
    try {
      const info = await stat(path);
      if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (error) {
      throw localErrorFor('create directory', path, error);
    }
    return;
  }
  // mkdir returns the first directory it created; every directory from there down is new.
  const created: string[] = [];
  const rel = relative(resolve(first), resolve(path));
  let current = resolve(first);
  created.push(current);
  for (const part of rel === '' ? [] : rel.split(sep)) {
    current = join(current, part);
    created.push(current);
  }
  if (isWindows) {
    for (const dir of created) {
      try {
        if (isPrivateMode(mode)) await restrictToOwner(dir, { directory: true });
      } catch (error) {
        throw localErrorFor('set permissions on', dir, error);
      }
    }
    return;
  }
  await chmodCreatedDirs(created, mode);
}

/**
 * Sets `mode` on directories just created, walking down from the parent of the first one through
 * descriptors without following symlinks. A chmod by path would follow a symlink a user who can
 * write that parent put in place of the new directory; a directory owned by someone else there
 * means the same thing.
 */
async function chmodCreatedDirs(created: readonly string[], mode: number): Promise<void> {
  const first = created[0] as string;
  let parent: Directory;
  try {
    parent = await openDirectory(dirname(first));
  } catch (error) {
    throw localErrorFor('set permissions on', first, error);
  }
  const euid = BigInt(process.geteuid?.() ?? 0);
  try {
    for (const path of created) {
      let child: Directory;
      try {
        child = await openDirectoryIn(parent, basename(path));
      } catch (error) {
        throw localErrorFor('set permissions on', path, error);
      }
      await parent.close();
      parent = child;
      const info = await child.stat();
      if (info.uid !== euid) {
        // Refused rather than used: a key written into another user's directory is theirs to rename.
        throw new LocalError(
          `cannot create directory ${path}: the new directory is owned by uid ${info.uid}, not by this user (another user who can write ${dirname(path)} replaced it, or the file system maps owners)`,
        );
      }
      try {
        await child.chmod(mode);
      } catch (error) {
        throw localErrorFor('set permissions on', path, error);
      }
    }
  } finally {
    await parent.close();
  }
}

/**
 * Removes temp files left by a crashed `atomicWrite` (`.<name>.tmp-<pid>-<hex>`) whose writer is
 * no longer running. Files of live processes are kept: they may be mid-write. Returns the removed
 * names. The pid test assumes the config directory is not shared between hosts.
 */
export async function cleanStaleTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return [];
    throw localErrorFor('read directory', dir, error);
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    if (await removeFile(join(dir, name))) removed.push(name);
  }
  return removed;
}

/** process.kill(pid, 0) probes without signalling; EPERM means it exists but is not ours. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === 'EPERM';
  }
}

/**
 * The directory entry of a renamed file is only durable once the directory itself is synced.
 * Windows cannot open a directory for fsync (NTFS journals the rename), so it is skipped there;
 * file systems that refuse it (EINVAL on some network mounts) are tolerated for the same reason.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (isWindows) return;
  const handle = await openDirectory(dir);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Owner-only access on Windows, where POSIX modes mean nothing. SYSTEM and Administrators keep
 * access as certbot does, because renewal often runs as a scheduled task under SYSTEM while the
 * files were created interactively by an administrator. No-op on other platforms.
 */
export async function restrictToOwner(path: string, options: { directory?: boolean } = {}): Promise<void> {
  if (!isWindows) return;
  const args = icaclsArgs(path, currentUserName(), options.directory === true);
  // Loaded here: node:child_process costs memory on every run, and only Windows needs it.
  const { execFile } = process.getBuiltinModule('node:child_process');
  await new Promise<void>((resolvePromise, reject) => {
    execFile(icaclsPath(), args, { windowsHide: true }, (error, _stdout, stderr) => {
      if (error) {
        reject(new Error(`icacls failed: ${String(stderr).trim() || error.message}`, { cause: error }));
      } else {
        resolvePromise();
      }
    });
  });
}

/**
 * The account to grant, as icacls can resolve it. GetUserNameW (os.userInfo) says "SYSTEM" under
 * the LocalSystem account a scheduled renewal runs as, where %USERNAME% is the computer account
 * "MACHINE$", which icacls cannot map to a SID on a machine outside a domain.
 */
function currentUserName(): string {
  try {
    const name = userInfo().username;
    if (name !== '') return name;
  } catch {
    // No account information (unusual): fall back to the environment.
  }
  return process.env['USERNAME'] ?? '';
}

/** Exported for tests: the argv given to icacls (no shell involved, so no quoting). */
export function icaclsArgs(path: string, user: string, directory: boolean): string[] {
  // (OI)(CI) makes files later created in a private directory inherit the restriction.
  const rights = directory ? '(OI)(CI)F' : 'F';
  return [
    path,
    '/inheritance:r',
    '/grant:r',
    `${user}:${rights}`,
    '/grant:r',
    `*S-1-5-18:${rights}`,
    '/grant:r',
    `*S-1-5-32-544:${rights}`,
  ];
}

function icaclsPath(): string {
  const root = process.env['SystemRoot'] ?? process.env['windir'];
  return root === undefined ? 'icacls.exe' : win32.join(root, 'System32', 'icacls.exe');
}

/**
 * Windows refuses to replace a file another process has open without FILE_SHARE_DELETE (a web
 * server reading it, an antivirus scan); those holds are short, so retry briefly.
 */
async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      const code = codeOf(error);
      const transient = code === 'EPERM' || code === 'EACCES' || code === 'EBUSY';
      if (!isWindows || !transient || attempt >= 10) throw error;
      await delay(50 * (attempt + 1));
    }
  }
}
