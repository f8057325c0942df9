import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalError, UsageError } from '../../../src/errors.js';
import { exists, removeFile, subdirectoryNames } from '../../../src/store/fs.js';
import { readUserFile, readUserFileBytes } from '../../../src/store/user-file.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();

describe('exists', () => {
  it('is true for a file and a directory, false when nothing is there or a parent is a file', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'file'), 'x');
    expect(exists(join(dir, 'file'))).toBe(true);
    expect(exists(dir)).toBe(true);
    expect(exists(join(dir, 'missing'))).toBe(false);
    expect(exists(join(dir, 'file', 'below'))).toBe(false);
  });

  it('throws a LocalError naming the path for any other failure (a symlink loop)', async () => {
    const dir = await tempDir();
    const loop = join(dir, 'loop');
    await symlink(loop, loop);
    expect(() => exists(loop)).toThrow(LocalError);
    expect(() => exists(loop)).toThrow(`cannot read ${loop}: `);
  });
});

describe('removeFile', () => {
  it('removes a file and says so; false when there was none', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'file'), 'x');
    expect(await removeFile(join(dir, 'file'))).toBe(true);
    expect(exists(join(dir, 'file'))).toBe(false);
    expect(await removeFile(join(dir, 'file'))).toBe(false);
  });
});

describe('subdirectoryNames', () => {
  it('lists directories sorted, without files and hidden ones; [] for a missing directory', async () => {
    const dir = await tempDir();
    for (const name of ['b', 'a', '.hidden']) await mkdir(join(dir, name));
    await writeFile(join(dir, 'c'), 'x');
    expect(await subdirectoryNames(dir)).toEqual(['a', 'b']);
    expect(await subdirectoryNames(join(dir, 'missing'))).toEqual([]);
  });
});

describe('readUserFile', () => {
  it('reads a file up to the cap; a larger one is a UsageError naming flag, path and cap', async () => {
    const dir = await tempDir();
    const path = join(dir, 'key');
    await writeFile(path, 'x'.repeat(2048));
    expect(await readUserFile(path, '--key', 2048)).toBe('x'.repeat(2048));
    const error = await readUserFileBytes(path, '--key', 1024, 'not a key').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(`--key ${path}: more than 1 KiB, not a key`);
  });

  it('an unreadable file or a directory is a one-line LocalError naming flag and path', async () => {
    const dir = await tempDir();
    const missing = join(dir, 'missing');
    await expect(readUserFile(missing, '--key', 1024)).rejects.toThrow(
      `cannot read --key ${missing}: no such file or directory (ENOENT)`,
    );
    await expect(readUserFile(dir, '--key', 1024)).rejects.toThrow(`cannot read --key ${dir}: is a directory (EISDIR)`);
    await expect(readUserFile(dir, '--key', 1024)).rejects.toBeInstanceOf(LocalError);
  });
});
