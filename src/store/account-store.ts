/**
 * ACME accounts on disk: accounts/<serverKey>/<accountName>/{account.key, account.json}.
 * The key is written before the record and removed after it, so a crash leaves at worst a key
 * without a record (treated as no account), never a record without its key.
 */
import { localErrorFor, removeFile, rm, rmdir, subdirectoryNames } from './fs.js';
import { join } from 'node:path';
import { LocalError } from '../errors.js';
import { atomicWrite, cleanStaleTempFiles, ensureDir } from './atomic-write.js';
import { ACCOUNT_RECORD_FILE, accountNameFromDirName, accountPaths, accountsDir } from './layout.js';
import { parseStored, refuseToReplaceNewer, serializeStored, UNCHANGED, type StoredFormat } from './stored-json.js';
import { assertTrustedDirectory, readTrustedFile } from './trust.js';

/** account.json's format; a file without the field (written before it existed) is version 0, whose fields are version 1's. */
export const ACCOUNT_RECORD_VERSION = 1;
/** More contacts than any CA keeps (RFC 8555 contact URLs: mailto:, tel:). */
const MAX_CONTACTS = 20;
const MAX_CONTACT_LENGTH = 512;

export interface AccountRecord {
  /** Account URL (the `kid`). */
  url: string;
  /** ACME directory URL. */
  server: string;
  contact: string[];
  /** ISO 8601. */
  createdAt: string;
  /** EAB key identifier; the HMAC key itself is never stored. */
  eabKeyId?: string;
  keyType?: string;
  termsOfServiceAgreed?: boolean;
}

export interface StoredAccount {
  record: AccountRecord;
  /** Account key, PEM. */
  key: string;
}

export async function loadAccount(configDir: string, server: string, name: string): Promise<StoredAccount | undefined> {
  const paths = accountPaths(configDir, server, name);
  // Before anything is read or removed there: a directory another user can change is refused.
  assertTrustedDirectory(paths.dir);
  // A run killed mid-write leaves a temp file here; every run loads the account, so it is the
  // one to clean up. Best effort: a read-only config dir must not stop a read.
  await cleanStaleTempFiles(paths.dir).catch(() => []);
  const recordText = readTrustedFile(paths.record);
  if (recordText === undefined) return undefined;
  const record = parseAccountRecord(recordText, paths.record);
  if (record.server !== server) {
    throw new LocalError(`${paths.record}: account "${name}" belongs to ${record.server}, not ${server}`);
  }
  const key = readTrustedFile(paths.key);
  if (key === undefined) {
    throw new LocalError(`${paths.key}: account key is missing while ${paths.record} exists`, {
      hint: 'restore the key from a backup, or delete the account directory and register again',
    });
  }
  return { record, key };
}

export async function saveAccount(
  configDir: string,
  server: string,
  name: string,
  record: AccountRecord,
  keyPem: string,
): Promise<void> {
  if (record.server !== server) {
    throw new LocalError(`account record for ${record.server} cannot be saved under ${server}`);
  }
  const paths = accountPaths(configDir, server, name);
  // Checked with the reader's own rules before anything is written: a record no later run could
  // read must not be stored, nor its key left behind without it. Only the declared fields are
  // kept: whatever else the caller's object carries (an EAB HMAC key) stays in memory.
  const text = serializeStored(ACCOUNT_RECORD_FORMAT, record, paths.record);
  // Callers loaded the account first, which checked the same; checked again here so no caller can
  // have root create directories through a path another user can change.
  assertTrustedDirectory(paths.dir);
  // Before the key: a record a newer acmecli wrote keeps the key it goes with.
  refuseToReplaceNewer(ACCOUNT_RECORD_FORMAT, paths.record);
  await ensureDir(paths.dir, 0o700);
  await atomicWrite(paths.key, keyPem, { mode: 0o600 });
  await atomicWrite(paths.record, text, { mode: 0o600 });
}

export interface AccountListing {
  name: string;
  serverKey: string;
  dir: string;
  /** Absent when the record could not be read; `error` says why. */
  record?: AccountRecord;
  error?: LocalError;
}

/** Every stored account; unreadable ones are listed with their error instead of failing the list. */
export async function listAccounts(configDir: string): Promise<AccountListing[]> {
  const root = accountsDir(configDir);
  const listings: AccountListing[] = [];
  for (const serverDir of await subdirectoryNames(root)) {
    for (const accountDir of await subdirectoryNames(join(root, serverDir))) {
      const name = accountNameFromDirName(accountDir);
      if (name === undefined) continue;
      const dir = join(root, serverDir, accountDir);
      const recordPath = join(dir, ACCOUNT_RECORD_FILE);
      try {
        const text = readTrustedFile(recordPath);
        // A key without a record is a crashed registration, not an account.
        if (text === undefined) continue;
        listings.push({ name, serverKey: serverDir, dir, record: parseAccountRecord(text, recordPath) });
      } catch (error) {
        listings.push({ name, serverKey: serverDir, dir, error: localErrorFor('read', recordPath, error) });
      }
    }
  }
  return listings.sort((a, b) => a.serverKey.localeCompare(b.serverKey) || a.name.localeCompare(b.name));
}

/** Removes the account's files; returns false when there was nothing to delete. */
export async function deleteAccount(configDir: string, server: string, name: string): Promise<boolean> {
  const paths = accountPaths(configDir, server, name);
  const hadRecord = await removeFile(paths.record);
  const hadKey = await removeFile(paths.key);
  try {
    await rm(paths.dir, { recursive: true, force: true });
  } catch (error) {
    throw localErrorFor('remove', paths.dir, error);
  }
  // Drop the server directory once its last account is gone; ENOTEMPTY means others remain.
  await rmdir(join(paths.dir, '..')).catch(() => undefined);
  return hadRecord || hadKey;
}

/**
 * Parses and checks account.json; `source` is named in every error. The URL becomes the `kid` of
 * every request, so it must be a URL; the contact must be what storableContact accepts.
 */
export function parseAccountRecord(text: string, source: string): AccountRecord {
  return parseStored(ACCOUNT_RECORD_FORMAT, text, source);
}

export const ACCOUNT_RECORD_FORMAT: StoredFormat<AccountRecord> = {
  version: ACCOUNT_RECORD_VERSION,
  migrations: { 0: UNCHANGED },
  check(stored, field) {
    const contact =
      storableContact(field.array(stored.contact, 'contact')) ??
      field.fail(
        'contact',
        `must hold at most ${MAX_CONTACTS} URLs such as "mailto:admin@example.com", without control characters`,
      );
    const record: AccountRecord = {
      url: field.url(stored.url, 'url'),
      server: field.url(stored.server, 'server'),
      contact,
      createdAt: field.date(stored.createdAt, 'createdAt'),
    };
    if (stored.eabKeyId !== undefined) record.eabKeyId = field.string(stored.eabKeyId, 'eabKeyId');
    if (stored.keyType !== undefined) record.keyType = field.string(stored.keyType, 'keyType');
    if (stored.termsOfServiceAgreed !== undefined)
      record.termsOfServiceAgreed = field.boolean(stored.termsOfServiceAgreed, 'termsOfServiceAgreed');
    return record;
  },
};

/**
 * The contact list as account.json may hold it, or undefined: a list of at most 20 URLs
 * (`mailto:…`, `tel:…`), each one line of printable text. What a CA returns as the account's
 * contact goes through this before it is stored (register, account update).
 */
export function storableContact(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_CONTACTS) return undefined;
  for (const item of value) {
    if (typeof item !== 'string' || item.length > MAX_CONTACT_LENGTH) return undefined;
    if (!/^[a-z][a-z0-9+.-]*:[^\x00-\x20\x7f-\x9f]+$/i.test(item)) return undefined;
  }
  return [...(value as string[])];
}
