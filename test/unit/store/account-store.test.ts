import { readFile, readdir, stat, unlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalError } from '../../../src/errors.js';
import {
  deleteAccount,
  listAccounts,
  loadAccount,
  saveAccount,
  storableContact,
  type AccountRecord,
} from '../../../src/store/account-store.js';
import { accountPaths } from '../../../src/store/layout.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();
const SERVER = 'https://acme.example/ejbca/acme/a1/directory';
const OTHER = 'https://acme.example/ejbca/acme/a2/directory';
const KEY = '-----BEGIN PRIVATE KEY-----\naccount\n-----END PRIVATE KEY-----\n';

function record(server = SERVER): AccountRecord {
  return {
    url: 'https://acme.example/acct/1',
    server,
    contact: ['mailto:admin@example.com'],
    createdAt: '2025-01-01T00:00:00.000Z',
    eabKeyId: 'kid-1',
    keyType: 'ec-p256',
    termsOfServiceAgreed: true,
  };
}

describe('account store', () => {
  it('saves and loads an account, key 0600 and directories 0700', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(), KEY);
    expect(await loadAccount(config, SERVER, 'default')).toEqual({ record: record(), key: KEY });
    const paths = accountPaths(config, SERVER, 'default');
    if (process.platform !== 'win32') {
      expect((await stat(paths.key)).mode & 0o777).toBe(0o600);
      expect((await stat(paths.dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(config, 'accounts'))).mode & 0o777).toBe(0o700);
    }
    expect((await readdir(paths.dir)).sort()).toEqual(['account.json', 'account.key']);
  });

  it('keeps accounts of two EJBCA aliases on one host apart', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(SERVER), KEY);
    expect(await loadAccount(config, OTHER, 'default')).toBeUndefined();
  });

  it('never writes an EAB HMAC key, even if the caller passes one along', async () => {
    const config = await tempDir();
    const withSecret = { ...record(), eabHmacKey: 'c2VjcmV0LWhtYWMta2V5' } as AccountRecord;
    await saveAccount(config, SERVER, 'default', withSecret, KEY);
    const text = await readFile(accountPaths(config, SERVER, 'default').record, 'utf8');
    expect(text).not.toContain('c2VjcmV0LWhtYWMta2V5');
    expect(text).toContain('"eabKeyId": "kid-1"');
  });

  it('treats a key without a record (crash during registration) as no account', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(), KEY);
    await unlink(accountPaths(config, SERVER, 'default').record);
    expect(await loadAccount(config, SERVER, 'default')).toBeUndefined();
    expect(await listAccounts(config)).toEqual([]);
  });

  it('fails with LocalError when the record exists without its key', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(), KEY);
    await unlink(accountPaths(config, SERVER, 'default').key);
    await expect(loadAccount(config, SERVER, 'default')).rejects.toThrow(LocalError);
    await expect(loadAccount(config, SERVER, 'default')).rejects.toThrow('account key is missing');
  });

  it('names the file and field of a damaged record', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(), KEY);
    const path = accountPaths(config, SERVER, 'default').record;
    await writeFile(path, JSON.stringify({ ...record(), contact: 'x' }));
    await expect(loadAccount(config, SERVER, 'default')).rejects.toThrow(
      `${path}: field "contact" must be a list, not string "x"`,
    );
    await writeFile(path, '{"url":');
    await expect(loadAccount(config, SERVER, 'default')).rejects.toThrow(`${path}: not valid JSON`);
  });

  it('lists accounts of every server, with unreadable ones carrying their error', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(SERVER), KEY);
    await saveAccount(config, OTHER, 'default', record(OTHER), KEY);
    await saveAccount(config, OTHER, 'backup', record(OTHER), KEY);
    await writeFile(accountPaths(config, OTHER, 'backup').record, 'garbage');
    await mkdir(join(config, 'accounts', 'stray-dir', '.tmp'), { recursive: true });
    const listed = await listAccounts(config);
    expect(listed.map((a) => [a.serverKey, a.name, a.record?.server, a.error?.constructor.name])).toEqual([
      ['acme.example_ejbca_acme_a1_directory', 'default', SERVER, undefined],
      ['acme.example_ejbca_acme_a2_directory', 'backup', undefined, 'LocalError'],
      ['acme.example_ejbca_acme_a2_directory', 'default', OTHER, undefined],
    ]);
  });

  it('deletes an account and its server directory once empty', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(), KEY);
    await saveAccount(config, SERVER, 'second', record(), KEY);
    expect(await deleteAccount(config, SERVER, 'default')).toBe(true);
    expect(await loadAccount(config, SERVER, 'default')).toBeUndefined();
    expect(await deleteAccount(config, SERVER, 'default')).toBe(false);
    expect(await deleteAccount(config, SERVER, 'second')).toBe(true);
    expect(await readdir(join(config, 'accounts'))).toEqual([]);
  });

  it.each([
    ['numbers', [1, 2]],
    ['an object', { mailto: 'a@example.com' }],
    ['a string', 'mailto:a@example.com'],
    ['a newline in an address', ['mailto:a@example.com\nx']],
  ])(
    'writes nothing for a contact of %s: no record no later run can read, no key left without one',
    async (_label, contact) => {
      const config = await tempDir();
      await expect(
        saveAccount(config, SERVER, 'default', { ...record(), contact } as unknown as AccountRecord, KEY),
      ).rejects.toThrow(`${accountPaths(config, SERVER, 'default').record}: field "contact"`);
      expect(await readdir(config)).toEqual([]);
    },
  );

  it('storableContact accepts URL lists only', () => {
    expect(storableContact(['mailto:a@example.com', 'tel:+33123'])).toEqual(['mailto:a@example.com', 'tel:+33123']);
    expect(storableContact([])).toEqual([]);
    for (const bad of [
      [1],
      {},
      'mailto:a@example.com',
      ['a@example.com'],
      ['mailto:a b@example.com'],
      ['mailto:\u009b31m'],
      Array(21).fill('mailto:a@example.com'),
    ]) {
      expect(storableContact(bad)).toBeUndefined();
    }
  });

  it('writes a format version and reads records written without one', async () => {
    const config = await tempDir();
    await saveAccount(config, SERVER, 'default', record(), KEY);
    const path = accountPaths(config, SERVER, 'default').record;
    expect(JSON.parse(await readFile(path, 'utf8')).version).toBe(1);
    const { version: _version, ...older } = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify(older));
    expect((await loadAccount(config, SERVER, 'default'))?.record).toEqual(record());
    await writeFile(path, JSON.stringify({ ...older, version: 2 }));
    await expect(loadAccount(config, SERVER, 'default')).rejects.toThrow(
      `${path}: field "version" is 2, this acmecli reads version 1`,
    );
  });

  it('refuses a record whose server differs from where it is saved', async () => {
    const config = await tempDir();
    await expect(saveAccount(config, SERVER, 'default', record(OTHER), KEY)).rejects.toThrow(LocalError);
  });
});
