import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, LocalError } from '../../../src/errors.js';
import { loadAccount, saveAccount, type AccountRecord } from '../../../src/store/account-store.js';
import { ARI_CACHE_FILE, readAriCache, writeAriCache, type AriCacheEntry } from '../../../src/store/ari-cache.js';
import { pruneArchive, readLineage, writeLineage, writeRenewalSettings } from '../../../src/store/certificate-store.js';
import { accountPaths, lineagePaths } from '../../../src/store/layout.js';
import {
  NewerFormatError,
  parseStored,
  UNCHANGED,
  type Migration,
  type StoredFormat,
} from '../../../src/store/stored-json.js';
import { SAMPLE_SETTINGS, certificateFiles } from './fixtures.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();
const SERVER = 'https://acme.example/directory';
const CERT = 'example.com';
const KEY = '-----BEGIN PRIVATE KEY-----\naccount\n-----END PRIVATE KEY-----\n';
const RECORD: AccountRecord = {
  url: 'https://acme.example/acct/1',
  server: SERVER,
  contact: ['mailto:admin@example.com'],
  createdAt: '2025-01-01T00:00:00.000Z',
};
const ARI: AriCacheEntry = {
  certificateId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
  server: SERVER,
  fetchedAt: '2029-12-01T00:00:00.000Z',
  nextCheckAt: '2029-12-01T06:00:00.000Z',
};

interface StoredFileCase {
  /** Writes the file through its store; returns its path. */
  create(config: string): Promise<string>;
  /** Reads it through its store; returns what the program gets. */
  read: (config: string) => Promise<unknown>;
  /** What `read` returns for the file `create` wrote. */
  expected: unknown;
  /** Writes it again through its store; absent for files never rewritten. */
  rewrite?: (config: string) => Promise<unknown>;
  wrongType: { field: string; value: unknown; message: string };
}

const CASES: Record<string, StoredFileCase> = {
  'account.json': {
    create: async (config) => {
      await saveAccount(config, SERVER, 'default', RECORD, KEY);
      return accountPaths(config, SERVER, 'default').record;
    },
    read: async (config) => (await loadAccount(config, SERVER, 'default'))?.record,
    expected: RECORD,
    rewrite: (config) => saveAccount(config, SERVER, 'default', RECORD, KEY),
    wrongType: {
      field: 'createdAt',
      value: 20250101,
      message: 'field "createdAt" must be a string, not number 20250101',
    },
  },
  'renewal.json': {
    create: async (config) => {
      await writeLineage(config, CERT, certificateFiles(1), SAMPLE_SETTINGS);
      return lineagePaths(config, CERT).renewal;
    },
    read: async (config) => (await readLineage(config, CERT))?.settings,
    expected: SAMPLE_SETTINGS,
    rewrite: (config) => writeRenewalSettings(config, CERT, SAMPLE_SETTINGS),
    wrongType: { field: 'reuseKey', value: 'no', message: 'field "reuseKey" must be true or false, not string "no"' },
  },
  'ari.json': {
    create: async (config) => {
      await writeAriCache(config, ARI);
      return join(config, ARI_CACHE_FILE);
    },
    // A damaged cache entry is reported to onInvalid (and treated as absent): thrown here to see it.
    read: (config) =>
      readAriCache(config, (error) => {
        throw error;
      }),
    expected: ARI,
    rewrite: (config) => writeAriCache(config, ARI),
    wrongType: { field: 'server', value: ['x'], message: 'field "server" must be a string, not a list' },
  },
  'manifest.json': {
    create: async (config) => {
      await writeLineage(config, CERT, certificateFiles(1), SAMPLE_SETTINGS);
      return join(lineagePaths(config, CERT).archive, '1', 'manifest.json');
    },
    read: async (config) => (await readLineage(config, CERT))?.files,
    expected: certificateFiles(1),
    wrongType: {
      field: 'number',
      value: '1',
      message: 'field "number" must be a positive whole number, not string "1"',
    },
  },
};

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

async function editJson(path: string, edit: (stored: Record<string, unknown>) => void): Promise<void> {
  const stored = await readJson(path);
  edit(stored);
  await writeFile(path, JSON.stringify(stored));
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe.each(Object.entries(CASES))('%s', (name, file) => {
  it('reads back what its store wrote, with the format version', async () => {
    const config = await tempDir();
    const path = await file.create(config);
    expect(path.endsWith(name)).toBe(true);
    expect((await readJson(path)).version).toBe(1);
    expect(await file.read(config)).toEqual(file.expected);
  });

  it('reads a file without a version (an earlier acmecli) and stores it in the current version on the next write', async () => {
    const config = await tempDir();
    const path = await file.create(config);
    await editJson(path, (stored) => delete stored.version);
    expect(await file.read(config)).toEqual(file.expected);
    if (file.rewrite === undefined) return;
    await file.rewrite(config);
    expect((await readJson(path)).version).toBe(1);
  });

  it('refuses a file of a newer version with one line naming it (exit 6), and does not rewrite it', async () => {
    const config = await tempDir();
    const path = await file.create(config);
    await editJson(path, (stored) => (stored.version = 2));
    const before = await readFile(path, 'utf8');
    // One at a time: a second promise made before the first is awaited would reject unobserved.
    const { read, rewrite } = file;
    const attempts: (() => Promise<unknown>)[] = [() => read(config)];
    if (rewrite) attempts.push(() => rewrite(config));
    for (const attempt of attempts) {
      const error = await errorOf(attempt());
      expect(error).toBeInstanceOf(NewerFormatError);
      expect((error as NewerFormatError).exitCode).toBe(ExitCode.local);
      expect((error as Error).message).toBe(`${path}: field "version" is 2, this acmecli reads version 1`);
      expect((error as NewerFormatError).hint).toBe('it was written by a newer acmecli');
    }
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('refuses a field of the wrong type, naming the file and the field', async () => {
    const config = await tempDir();
    const path = await file.create(config);
    await editJson(path, (stored) => (stored[file.wrongType.field] = file.wrongType.value));
    const error = await errorOf(file.read(config));
    expect(error).toBeInstanceOf(LocalError);
    expect((error as Error).message).toBe(`${path}: ${file.wrongType.message}`);
  });

  it('refuses a version that is not a version number', async () => {
    const config = await tempDir();
    const path = await file.create(config);
    await editJson(path, (stored) => (stored.version = '1'));
    await expect(file.read(config)).rejects.toThrow(
      `${path}: field "version" must be a format version number, not string "1"`,
    );
  });
});

describe('newer files beside older ones', () => {
  it('an account record of a newer acmecli keeps its key: saveAccount writes neither', async () => {
    const config = await tempDir();
    const paths = accountPaths(config, SERVER, 'default');
    await saveAccount(config, SERVER, 'default', RECORD, KEY);
    await editJson(paths.record, (stored) => (stored.version = 2));
    await expect(saveAccount(config, SERVER, 'default', RECORD, 'other key')).rejects.toThrow(NewerFormatError);
    expect(await readFile(paths.key, 'utf8')).toBe(KEY);
  });

  it('issuing over a renewal.json of a newer acmecli writes no archive version', async () => {
    const config = await tempDir();
    const paths = lineagePaths(config, CERT);
    await writeLineage(config, CERT, certificateFiles(1), SAMPLE_SETTINGS);
    await editJson(paths.renewal, (stored) => (stored.version = 2));
    await expect(writeLineage(config, CERT, certificateFiles(2), SAMPLE_SETTINGS)).rejects.toThrow(NewerFormatError);
    expect(await readdir(paths.archive)).toEqual(['1']);
  });

  it('pruning does not take an archive version of a newer acmecli for an incomplete one', async () => {
    const config = await tempDir();
    const paths = lineagePaths(config, CERT);
    await writeLineage(config, CERT, certificateFiles(1), SAMPLE_SETTINGS);
    await writeLineage(config, CERT, certificateFiles(2), SAMPLE_SETTINGS);
    await editJson(join(paths.archive, '1', 'manifest.json'), (stored) => (stored.version = 2));
    await expect(pruneArchive(config, CERT, 1)).rejects.toThrow(NewerFormatError);
    expect((await readdir(paths.archive)).sort()).toEqual(['1', '2']);
  });
});

describe('migrations', () => {
  interface Doc {
    name: string;
    steps: string[];
  }
  const renameTitle: Migration = (stored) => ({
    ...stored,
    name: stored.title,
    steps: [...(stored.steps as string[]), '1→2'],
  });
  const format: StoredFormat<Doc> = {
    version: 2,
    migrations: { 0: UNCHANGED, 1: renameTitle },
    check: (stored, field) => ({
      name: field.string(stored.name, 'name'),
      steps: field.array(stored.steps, 'steps').map((step, i) => field.string(step, `steps[${i}]`)),
    }),
  };

  it('runs every step from the stored version up to the current one, in order', () => {
    expect(parseStored(format, '{"title":"a","steps":[]}', 'doc.json')).toEqual({ name: 'a', steps: ['1→2'] });
    expect(parseStored(format, '{"version":1,"title":"a","steps":[]}', 'doc.json')).toEqual({
      name: 'a',
      steps: ['1→2'],
    });
    expect(parseStored(format, '{"version":2,"name":"b","steps":[]}', 'doc.json')).toEqual({ name: 'b', steps: [] });
  });

  it('checks the migrated document, naming the file and the field', () => {
    expect(() => parseStored(format, '{"version":1,"title":3,"steps":[]}', 'doc.json')).toThrow(
      'doc.json: field "name" must be a string, not number 3',
    );
  });

  it('refuses a version the table has no step from', () => {
    const gap: StoredFormat<Doc> = { ...format, migrations: { 1: renameTitle } };
    expect(() => parseStored(gap, '{"title":"a","steps":[]}', 'doc.json')).toThrow(
      'doc.json: field "version" is 0, a format version acmecli never wrote',
    );
  });
});
