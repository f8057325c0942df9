import { spawnSync } from 'node:child_process';
import { readFile, readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalError } from '../../../src/errors.js';
import {
  atomicWrite,
  cleanStaleTempFiles,
  ensureDir,
  icaclsArgs,
  isProcessAlive,
} from '../../../src/store/atomic-write.js';
import { localErrorFor } from '../../../src/store/fs.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();
const posixOnly = process.platform === 'win32' ? it.skip : it;

/** A pid that is certainly not running: a child we started and waited for. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined) throw new Error('could not spawn');
  return child.pid;
}

describe('atomicWrite', () => {
  it('writes the content and leaves no temp file behind', async () => {
    const dir = await tempDir();
    const target = join(dir, 'cert.pem');
    await atomicWrite(target, 'first\n');
    await atomicWrite(target, Buffer.from('second\n'));
    expect(await readFile(target, 'utf8')).toBe('second\n');
    expect(await readdir(dir)).toEqual(['cert.pem']);
  });

  posixOnly('applies 0644 by default and 0600 for secrets, whatever the umask', async () => {
    const dir = await tempDir();
    const previous = process.umask(0o077);
    try {
      await atomicWrite(join(dir, 'public.pem'), 'x');
    } finally {
      process.umask(previous);
    }
    await atomicWrite(join(dir, 'privkey.pem'), 'secret', { mode: 0o600 });
    expect((await stat(join(dir, 'public.pem'))).mode & 0o777).toBe(0o644);
    expect((await stat(join(dir, 'privkey.pem'))).mode & 0o777).toBe(0o600);
  });

  it('tightens the mode of a file it replaces', async () => {
    const dir = await tempDir();
    const target = join(dir, 'privkey.pem');
    await writeFile(target, 'old', { mode: 0o644 });
    await atomicWrite(target, 'new', { mode: 0o600 });
    if (process.platform !== 'win32') expect((await stat(target)).mode & 0o777).toBe(0o600);
  });

  it('fails with a one-line LocalError naming the path when a parent is a regular file (ENOTDIR)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'not-a-dir'), '');
    const target = join(dir, 'not-a-dir', 'cert.pem');
    const error = await atomicWrite(target, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalError);
    expect((error as LocalError).message).toBe(`cannot write ${target}: a parent path is not a directory (ENOTDIR)`);
    expect((error as LocalError).exitCode).toBe(6);
  });

  // Root ignores permission bits, so a read-only directory is simulated with the immutable
  // attribute when the file system supports it; a non-root run uses chmod instead.
  posixOnly('fails with LocalError naming the path in a directory it may not write to', async (ctx) => {
    const dir = await tempDir();
    const locked = join(dir, 'locked');
    await mkdir(locked);
    const isRoot = process.getuid?.() === 0;
    let undo: () => void;
    if (isRoot) {
      const set = spawnSync('chattr', ['+i', locked]);
      if (set.status !== 0)
        ctx.skip('running as root without chattr +i support: cannot simulate a read-only directory');
      undo = () => spawnSync('chattr', ['-i', locked]);
    } else {
      spawnSync('chmod', ['0555', locked]);
      undo = () => spawnSync('chmod', ['0755', locked]);
    }
    try {
      const target = join(locked, 'cert.pem');
      const error = await atomicWrite(target, 'x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LocalError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^cannot write ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (operation not permitted \\(EPERM\\)|permission denied \\(EACCES\\))$`,
        ),
      );
      expect(await readdir(locked)).toEqual([]);
    } finally {
      undo();
    }
  });
});

describe('localErrorFor', () => {
  it('names the OS reason for common codes in one line', () => {
    const rofs = Object.assign(new Error('EROFS: read-only file system, open'), { code: 'EROFS' });
    const nospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(localErrorFor('write', '/etc/acmecli/x', rofs).message).toBe(
      'cannot write /etc/acmecli/x: read-only file system (EROFS)',
    );
    expect(localErrorFor('write', '/x', nospc).message).toBe('cannot write /x: no space left on device (ENOSPC)');
    expect(localErrorFor('write', '/x', nospc).cause).toBe(nospc);
  });
});

describe('ensureDir', () => {
  posixOnly('creates missing directories with the requested mode', async () => {
    const dir = await tempDir();
    const leaf = join(dir, 'accounts', 'server', 'default');
    await ensureDir(leaf, 0o700);
    for (const path of [join(dir, 'accounts'), join(dir, 'accounts', 'server'), leaf]) {
      expect((await stat(path)).mode & 0o777).toBe(0o700);
    }
  });

  posixOnly('leaves the mode of an existing directory alone', async () => {
    const dir = await tempDir();
    const existing = join(dir, 'shared');
    await mkdir(existing, { mode: 0o755 });
    await ensureDir(existing, 0o700);
    expect((await stat(existing)).mode & 0o777).toBe(0o755);
  });

  it('fails with LocalError when a file is in the way', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'file'), '');
    await expect(ensureDir(join(dir, 'file'))).rejects.toThrow(LocalError);
    await expect(ensureDir(join(dir, 'file', 'sub'))).rejects.toThrow(
      `cannot create directory ${join(dir, 'file', 'sub')}: a parent path is not a directory (ENOTDIR)`,
    );
  });
});

describe('cleanStaleTempFiles', () => {
  it("removes leftovers of dead writers and keeps live writers' files and other files", async () => {
    const dir = await tempDir();
    const dead = deadPid();
    expect(isProcessAlive(dead)).toBe(false);
    const stale = `.cert.pem.tmp-${dead}-0a1b2c3d4e5f`;
    const mine = `.cert.pem.tmp-${process.pid}-0a1b2c3d4e5f`;
    for (const name of [stale, mine, 'cert.pem', '.hidden']) await writeFile(join(dir, name), '');
    expect(await cleanStaleTempFiles(dir)).toEqual([stale]);
    expect((await readdir(dir)).sort()).toEqual(
      ['.cert.pem.tmp-' + process.pid + '-0a1b2c3d4e5f', '.hidden', 'cert.pem'].sort(),
    );
  });

  it('treats a missing directory as empty', async () => {
    const dir = await tempDir();
    expect(await cleanStaleTempFiles(join(dir, 'nope'))).toEqual([]);
  });
});

describe('icaclsArgs', () => {
  it('removes inheritance and grants the user, SYSTEM and Administrators full control', () => {
    expect(icaclsArgs('C:\\ProgramData\\acmecli\\k.pem', 'alice', false)).toEqual([
      'C:\\ProgramData\\acmecli\\k.pem',
      '/inheritance:r',
      '/grant:r',
      'alice:F',
      '/grant:r',
      '*S-1-5-18:F',
      '/grant:r',
      '*S-1-5-32-544:F',
    ]);
    expect(icaclsArgs('C:\\d', 'alice', true)).toContain('alice:(OI)(CI)F');
  });
});
