import { UsageError } from '../../errors.js';
import { parseKeyType, type KeyType } from '../../crypto/keys.js';
import {
  deactivateAccount,
  listLocalAccounts,
  rolloverAccountKey,
  showAccount,
  updateAccount,
  type AccountView,
} from '../../operations/account.js';
import { parseEmails } from '../../operations/register.js';
import type { AccountListing } from '../../store/account-store.js';
import type { OutputLine } from '../../output/reporter.js';
import type { CommandAction } from '../action.js';
import { flagOption, listOption, noInput, stringOption } from '../input.js';

export interface AccountUpdateInput {
  /** Absent: the contacts stay as they are. */
  emails?: string[];
  agreeTos: boolean;
}

export interface AccountDeactivateInput {
  /** --yes: no question asked. */
  confirmed: boolean;
}

export interface AccountRolloverInput {
  /** Absent: the type of the old key. */
  accountKeyType?: KeyType;
}

function renderAccount(view: AccountView): string[] {
  const lines = [`Account "${view.accountName}" at ${view.server}`, `  URL:      ${view.url}`];
  if (view.status) lines.push(`  status:   ${view.status}`);
  lines.push(`  contact:  ${view.contact.join(', ') || '(none)'}`, `  created:  ${view.createdAt}`);
  if (view.keyType) lines.push(`  key:      ${view.keyType}`);
  if (view.eabKeyId) lines.push(`  EAB kid:  ${view.eabKeyId}`);
  return lines;
}

function renderList(list: AccountListing[]): OutputLine[] {
  if (list.length === 0) return ['No accounts.'];
  return list.map((a) => [a.name, a.record?.server ?? a.serverKey, a.record?.url ?? `unreadable: ${a.error?.message}`]);
}

export const accountShowAction: CommandAction<undefined, AccountView> = {
  parse: noInput,
  async run(context) {
    return { value: await showAccount(context), render: renderAccount };
  },
};

export const accountListAction: CommandAction<undefined, AccountListing[]> = {
  parse: noInput,
  async run(context) {
    return { value: await listLocalAccounts(context), render: renderList };
  },
};

export const accountUpdateAction: CommandAction<AccountUpdateInput, AccountView> = {
  parse(line) {
    const emails = parseEmails(listOption(line, '--email'));
    const agreeTos = flagOption(line, '--agree-tos');
    if (emails.length === 0 && !agreeTos) throw new UsageError('account update needs --email ADDRESS or --agree-tos');
    return { ...(emails.length > 0 ? { emails } : {}), agreeTos };
  },
  async run(context, input) {
    return { value: await updateAccount(context, input), render: renderAccount };
  },
};

export const accountDeactivateAction: CommandAction<AccountDeactivateInput, AccountView> = {
  parse: (line) => ({ confirmed: flagOption(line, '--yes') }),
  async run(context, { confirmed }) {
    if (!confirmed) {
      const agreed = context.confirm
        ? await context.confirm(
            `Deactivate account "${context.accountName}" at ${context.server}? This cannot be undone. [y/N] `,
            context.signal,
          )
        : false;
      if (!agreed) throw new UsageError('account deactivate is irreversible: confirm with --yes');
    }
    return { value: await deactivateAccount(context), render: renderAccount };
  },
};

export const accountRolloverAction: CommandAction<AccountRolloverInput, AccountView> = {
  parse(line) {
    const keyType = stringOption(line, '--account-key-type');
    return keyType === undefined ? {} : { accountKeyType: parseKeyType(keyType, '--account-key-type') };
  },
  async run(context, input) {
    return { value: await rolloverAccountKey(context, input.accountKeyType), render: renderAccount };
  },
};
