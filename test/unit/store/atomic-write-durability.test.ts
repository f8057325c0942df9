/** Which writes reach the disk before atomicWrite returns: every file and its directory entry unless told otherwise. */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { atomicWrite } from '../../../src/store/atomic-write.js';
import { useTempDirs } from './temp-dir.js';

const synced = vi.hoisted(() => ({ paths: [] as string[] }));

vi.mock('../../../src/store/fs.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/store/fs.js')>();
  const open: typeof actual.open = async (path, ...rest) => {
    const file = await actual.open(path, ...rest);
    return {
      ...file,
      sync: async () => {
        synced.paths.push(String(path));
        await file.sync();
      },
    };
  };
  // Directories are synced through their open handle (atomicWrite works inside the open directory).
  const openDirectory: typeof actual.openDirectory = async (path) => {
    const dir = await actual.openDirectory(path);
    return {
      ...dir,
      sync: async () => {
        synced.paths.push(String(path));
        await dir.sync();
      },
    };
  };
  return { ...actual, open, openDirectory };
});

const tempDir = useTempDirs();
const onPosix = process.platform === 'win32' ? it.skip : it;

beforeEach(() => {
  synced.paths.length = 0;
});

describe('atomicWrite durability', () => {
  onPosix('syncs the temp file and the directory by default', async () => {
    const dir = await tempDir();
    await atomicWrite(join(dir, 'renewal.json'), '{}\n');
    expect(synced.paths).toHaveLength(2);
    expect(synced.paths[0]).toMatch(/\.renewal\.json\.tmp-/);
    expect(synced.paths[1]).toBe(dir);
  });

  it('syncs nothing with durable: false, and still replaces the file whole', async () => {
    const dir = await tempDir();
    const target = join(dir, 'ari.json');
    await atomicWrite(target, 'old\n', { durable: false });
    await atomicWrite(target, 'new\n', { durable: false });
    expect(synced.paths).toEqual([]);
    expect(await readFile(target, 'utf8')).toBe('new\n');
    expect(await readdir(dir)).toEqual(['ari.json']);
  });
});
