import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARI_CACHE_FILE, readAriCache, writeAriCache, type AriCacheEntry } from '../../../src/store/ari-cache.js';
import { LocalError } from '../../../src/errors.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();

const ENTRY: AriCacheEntry = {
  certificateId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
  server: 'https://acme.example/directory',
  window: { start: '2030-01-01T00:00:00Z', end: '2030-01-03T00:00:00Z' },
  renewAt: '2030-01-02T00:00:00.000Z',
  fetchedAt: '2029-12-01T00:00:00.000Z',
  nextCheckAt: '2029-12-01T06:00:00.000Z',
  certificate: { sha256: 'ab'.repeat(32), notBefore: '2029-11-01T00:00:00.000Z', notAfter: '2030-01-30T00:00:00.000Z' },
};

describe('ARI cache', () => {
  it('reads back what it wrote, leaving no temp file', async () => {
    const dir = await tempDir();
    await writeAriCache(dir, ENTRY);
    expect(await readAriCache(dir)).toEqual(ENTRY);
    expect(await readdir(dir)).toEqual([ARI_CACHE_FILE]);
    if (process.platform !== 'win32') expect((await stat(join(dir, ARI_CACHE_FILE))).mode & 0o777).toBe(0o644);
  });

  it('reads entries without certificate facts (written by older versions)', async () => {
    const dir = await tempDir();
    const { certificate: _facts, ...older } = ENTRY;
    await writeFile(join(dir, ARI_CACHE_FILE), JSON.stringify(older));
    expect(await readAriCache(dir)).toEqual(older);
  });

  it('treats a missing, truncated or malformed entry as no entry', async () => {
    const dir = await tempDir();
    expect(await readAriCache(dir)).toBeUndefined();
    const path = join(dir, ARI_CACHE_FILE);
    await writeFile(path, '');
    expect(await readAriCache(dir)).toBeUndefined();
    await writeFile(path, JSON.stringify(ENTRY).slice(0, 40));
    expect(await readAriCache(dir)).toBeUndefined();
    await writeFile(path, JSON.stringify({ ...ENTRY, certificate: { ...ENTRY.certificate, notAfter: 'soon' } }));
    expect(await readAriCache(dir)).toBeUndefined();
    await writeFile(path, JSON.stringify({ ...ENTRY, certificate: { notBefore: ENTRY.certificate?.notBefore } }));
    expect(await readAriCache(dir)).toBeUndefined();
  });

  it('names the file and the field of a malformed entry to onInvalid', async () => {
    const dir = await tempDir();
    const path = join(dir, ARI_CACHE_FILE);
    const seen: LocalError[] = [];
    await writeFile(path, JSON.stringify({ ...ENTRY, window: { start: 1, end: ENTRY.window?.end } }));
    expect(await readAriCache(dir, (error) => seen.push(error))).toBeUndefined();
    await writeFile(path, JSON.stringify({ ...ENTRY, renewAt: 'soon' }));
    expect(await readAriCache(dir, (error) => seen.push(error))).toBeUndefined();
    expect(seen.map((e) => e.message)).toEqual([
      `${path}: field "window.start" must be a string, not number 1`,
      `${path}: field "renewAt" must be a date, not "soon"`,
    ]);
  });

  it('does not write an entry it would not read back', async () => {
    const dir = await tempDir();
    await expect(writeAriCache(dir, { ...ENTRY, nextCheckAt: 'later' })).rejects.toThrow(
      `${join(dir, ARI_CACHE_FILE)}: field "nextCheckAt" must be a date`,
    );
    expect(await readdir(dir)).toEqual([]);
  });
});
