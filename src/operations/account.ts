/** `account show | list | update | deactivate | rollover`. */
import { UsageError } from '../errors.js';
import { exportPrivateKeyPem, generateKey, keyTypeOf, type KeyType } from '../crypto/keys.js';
import {
  listAccounts,
  loadAccount,
  saveAccount,
  storableContact,
  type AccountListing,
  type AccountRecord,
} from '../store/account-store.js';
import { openSession } from './ca-session.js';
import { contactToStore } from './register.js';
import type { RunContext } from './context.js';

export interface AccountView {
  accountName: string;
  server: string;
  url: string;
  status?: string;
  contact: string[];
  createdAt: string;
  eabKeyId?: string;
  keyType?: string;
}

/** The view of `record` the account commands return; `status` when the CA was asked. */
function accountView(context: RunContext, record: AccountRecord, status?: string): AccountView {
  return {
    accountName: context.accountName,
    server: context.server,
    url: record.url,
    ...(status !== undefined ? { status } : {}),
    contact: record.contact,
    createdAt: record.createdAt,
    ...(record.eabKeyId ? { eabKeyId: record.eabKeyId } : {}),
    ...(record.keyType ? { keyType: record.keyType } : {}),
  };
}

async function requireAccount(context: RunContext) {
  const stored = await loadAccount(context.configDir, context.server, context.accountName);
  if (!stored) {
    throw new UsageError(
      `no ACME account "${context.accountName}" for ${context.server} in ${context.configDir}: run \`acmecli register\` first`,
    );
  }
  return stored;
}

export async function showAccount(context: RunContext): Promise<AccountView> {
  const stored = await requireAccount(context);
  const session = await openSession(context);
  try {
    const remote = await session.client.getAccount(context.signal);
    // Only a contact list that could be stored is shown as one; anything else the CA sent is not.
    const contact = storableContact(remote.contact) ?? stored.record.contact;
    return accountView(context, { ...stored.record, contact }, remote.status);
  } finally {
    await session.close();
  }
}

export function listLocalAccounts(context: RunContext): Promise<AccountListing[]> {
  return listAccounts(context.configDir);
}

/** New contact addresses, and/or agreement to changed terms of service (RFC 8555 §7.3.3). */
export async function updateAccount(
  context: RunContext,
  update: { emails?: readonly string[]; agreeTos: boolean },
): Promise<AccountView> {
  const stored = await requireAccount(context);
  const session = await openSession(context);
  try {
    const contact = update.emails?.map((e) => `mailto:${e}`);
    const updated = await session.client.updateAccount(
      { ...(contact ? { contact } : {}), ...(update.agreeTos ? { termsOfServiceAgreed: true } : {}) },
      context.signal,
    );
    const record = {
      ...stored.record,
      contact: contactToStore(context, updated.contact, contact ?? stored.record.contact),
      ...(update.agreeTos ? { termsOfServiceAgreed: true } : {}),
    };
    await saveAccount(context.configDir, context.server, context.accountName, record, stored.key);
    return accountView(context, record, updated.status);
  } finally {
    await session.close();
  }
}

export async function deactivateAccount(context: RunContext): Promise<AccountView> {
  const stored = await requireAccount(context);
  const session = await openSession(context);
  try {
    const result = await session.client.deactivateAccount(context.signal);
    return accountView(context, stored.record, result.status);
  } finally {
    await session.close();
  }
}

/** Key rollover (RFC 8555 §7.3.5): the new key is saved only after the CA accepted it. */
export async function rolloverAccountKey(context: RunContext, keyType: KeyType | undefined): Promise<AccountView> {
  const stored = await requireAccount(context);
  const session = await openSession(context);
  try {
    const newKey = await generateKey(keyType ?? (stored.record.keyType as KeyType | undefined) ?? 'ec256');
    const step = context.reporter.step('Rolling the account key over');
    try {
      await session.client.changeKey(newKey, context.signal);
      step.succeed('The CA accepted the new account key');
    } catch (error) {
      step.fail();
      throw error;
    }
    const record = { ...stored.record, ...(keyTypeOf(newKey) ? { keyType: keyTypeOf(newKey) as string } : {}) };
    await saveAccount(context.configDir, context.server, context.accountName, record, exportPrivateKeyPem(newKey));
    return accountView(context, record);
  } finally {
    await session.close();
  }
}
