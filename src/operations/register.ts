/**
 * `register`: create (or find) the ACME account of this config dir for a server and account
 * name. The EAB MAC key is used once and never stored; the key id is kept to catch the Certigna
 * pitfall of a second, different binding silently ignored.
 */
import type { KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { EabAlgorithm } from '../acme/jws.js';
import { decodeEabHmacKey } from '../acme/jws.js';
import { exportPrivateKeyPem, generateKey, keyTypeOf, loadPrivateKeyPem, type KeyType } from '../crypto/keys.js';
import { loadAccount, saveAccount, storableContact, type AccountRecord } from '../store/account-store.js';
import { openSession } from './ca-session.js';
import { MAX_KEY_FILE_BYTES, readUserFile } from '../store/user-file.js';
import type { RunContext } from './context.js';

export interface RegisterInput {
  emails: readonly string[];
  agreeTos: boolean;
  eab?: { keyId: string; hmacKey: string; algorithm?: EabAlgorithm };
  accountKeyType: KeyType;
  /** Bring-your-own account key (PEM file). */
  accountKeyFile?: string;
  /** Replace an existing local account for this server and name. */
  force: boolean;
}

export interface RegisterResult {
  accountName: string;
  server: string;
  url: string;
  /** False when the account already existed (locally, or at the CA for this key). */
  created: boolean;
  contact: string[];
  eabKeyId?: string;
  termsOfService?: string;
}

// No control characters either: the address is stored (account.json) and shown.
const EMAIL = /^[^@\s,;<>"\x00-\x1f\x7f]+@[^@\s,;<>"\x00-\x1f\x7f]+\.[^@\s,;<>"\x00-\x1f\x7f]+$/;

export function parseEmails(values: readonly string[]): string[] {
  const emails: string[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const email = part.trim();
      if (email === '') continue;
      if (!EMAIL.test(email)) throw new UsageError(`invalid e-mail address ${JSON.stringify(email)} for --email`);
      if (!emails.includes(email)) emails.push(email);
    }
  }
  return emails;
}

export async function registerAccount(context: RunContext, input: RegisterInput): Promise<RegisterResult> {
  const { configDir, server, accountName, reporter, signal } = context;
  if (input.eab) decodeEabHmacKey(input.eab.hmacKey);
  const existing = await loadAccount(configDir, server, accountName);
  if (existing && !input.force) {
    if (input.eab && existing.record.eabKeyId !== undefined && existing.record.eabKeyId !== input.eab.keyId) {
      throw new UsageError(
        `account "${accountName}" for ${server} is bound to EAB key id ${existing.record.eabKeyId}, not ${input.eab.keyId}: register the new binding under another name with --account NAME, or replace the local account with --force`,
      );
    }
    if (input.eab && existing.record.eabKeyId === undefined) {
      throw new UsageError(
        `account "${accountName}" for ${server} exists without External Account Binding; to bind EAB key id ${input.eab.keyId} use --account NAME for a new account, or --force to replace it`,
      );
    }
    return {
      accountName,
      server,
      url: existing.record.url,
      created: false,
      contact: existing.record.contact,
      ...(existing.record.eabKeyId !== undefined ? { eabKeyId: existing.record.eabKeyId } : {}),
    };
  }

  let accountKey: KeyObject;
  if (input.accountKeyFile) {
    accountKey = loadPrivateKeyPem(
      await readUserFile(input.accountKeyFile, '--account-key', MAX_KEY_FILE_BYTES),
      `--account-key ${input.accountKeyFile}`,
    );
  } else {
    accountKey = await generateKey(input.accountKeyType);
  }

  const session = await openSession(context, { fallbackKey: accountKey, ignoreStoredAccount: true });
  try {
    const directory = await session.client.directory(signal);
    const terms = directory.meta?.termsOfService;
    let agreed = input.agreeTos;
    if (terms && !agreed) {
      if (context.confirm) {
        agreed = await context.confirm(`Do you agree to the terms of service of ${server}? (${terms}) [y/N] `, signal);
      }
      if (!agreed) {
        throw new UsageError(
          `the CA asks you to agree to its terms of service (${terms}): read them and pass --agree-tos`,
        );
      }
    }
    if (directory.meta?.externalAccountRequired && !input.eab) {
      throw new UsageError(
        `${server} requires External Account Binding: pass --eab-kid and --eab-hmac-key from your CA account`,
      );
    }
    const contact = input.emails.map((e) => `mailto:${e}`);
    const step = reporter.step(`Registering an ACME account with ${server}`);
    let created;
    try {
      created = await session.client.newAccount(
        {
          contact,
          termsOfServiceAgreed: agreed,
          ...(input.eab ? { externalAccountBinding: input.eab } : {}),
        },
        signal,
      );
      step.succeed(
        created.created
          ? `Registered account ${created.url}`
          : `Found the existing account ${created.url} for this key`,
      );
    } catch (error) {
      step.fail('Registration failed');
      throw error;
    }
    const record: AccountRecord = {
      url: created.url,
      server,
      contact: contactToStore(context, created.account.contact, contact),
      createdAt: context.now().toISOString(),
      termsOfServiceAgreed: agreed,
      ...(input.eab ? { eabKeyId: input.eab.keyId } : {}),
      ...(keyTypeOf(accountKey) ? { keyType: keyTypeOf(accountKey) } : {}),
    };
    await saveAccount(configDir, server, accountName, record, exportPrivateKeyPem(accountKey));
    return {
      accountName,
      server,
      url: created.url,
      created: created.created,
      contact: record.contact,
      ...(input.eab ? { eabKeyId: input.eab.keyId } : {}),
      ...(terms ? { termsOfService: terms } : {}),
    };
  } finally {
    await session.close();
  }
}

/**
 * The account's contact as the CA echoes it, when it is something account.json may hold
 * (storableContact); otherwise what acmecli sent, with a warning. A CA's `[1,2]` or an object
 * must not become a record no later run can read.
 */
export function contactToStore(context: RunContext, fromCa: unknown, sent: readonly string[]): string[] {
  if (fromCa === undefined) return [...sent];
  const contact = storableContact(fromCa);
  if (contact !== undefined) return contact;
  context.reporter.warn(
    'the CA answered with an account contact that is not a list of URLs; keeping the contact acmecli sent',
  );
  return [...sent];
}
