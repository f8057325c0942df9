/**
 * Every file acmecli writes goes through `atomicWrite`: a reader (a web server, a concurrent
 * `acmecli certificates`) sees either the old content or the new content, never a truncated file,
 * and a crash leaves at most a hidden temp file that `cleanStaleTempFiles` removes later.
 */
import { randomBytes } from 'node:crypto';
import { open, mkdir, chmod, rename, unlink, readdir, stat } from './fs.js';
import { basename, dirname, join, relative, resolve, sep, win32 } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { userInfo } from 'node:os';
import { LocalError, messageOf } from '../errors.js';

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
  const mode = options.mode ?? DEFAULT_FILE_MODE;
  const durable = options.durable ?? true;
  const dir = dirname(path);
  const temp = join(dir, tempNameFor(path));
  let created = false;
  try {
    const handle = await open(temp, 'wx', mode);
    created = true;
    try {
      await handle.writeFile(data);
      // Without fsync a crash after the rename can leave the new name pointing at an empty file.
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    if (!isWindows) {
      // open()'s mode is filtered by the umask; the caller asked for an exact mode.
      await chmod(temp, mode);
    } else if (isPrivateMode(mode)) {
      // Restrict the temp file before it gets the real name, so the target never exists readable.
      await restrictToOwner(temp);
    }
    await renameWithRetry(temp, path);
    created = false;
    if (durable) await fsyncDir(dir);
  } catch (error) {
    if (created) await unlink(temp).catch(() => undefined);
    throw localErrorFor('write', path, error);
  }
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
  for (const dir of created) {
    try {
      if (!isWindows) await chmod(dir, mode);
      else if (isPrivateMode(mode)) await restrictToOwner(dir, { directory: true });
    } catch (error) {
      throw localErrorFor('set permissions on', dir, error);
    }
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
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw localErrorFor('remove', join(dir, name), error);
    }
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
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    const code = codeOf(error);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Owner-only access on Windows, where POSIX modes mean nothing. SYSTEM and Administrators keep
 * access as certbot does, because renewal often runs as a scheduled task under SYSTEM while the
 * files were created interactively by an administrator. No-op on other platforms.
 */
export async function restrictToOwner(
  path: string,
  options: { directory?: boolean } = {},
): Promise<void> {
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

/** `cannot write /etc/acmecli/x: permission denied (EACCES)` — one line, path and OS reason. */
export function localErrorFor(action: string, path: string, error: unknown): LocalError {
  if (error instanceof LocalError) return error;
  const code = codeOf(error);
  const reason =
    code === undefined
      ? messageOf(error)
      : `${REASONS[code] ?? messageOf(error).replace(/^[A-Z]+: /, '').split(',')[0]} (${code})`;
  return new LocalError(`cannot ${action} ${path}: ${reason}`, { cause: error });
}

export function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
