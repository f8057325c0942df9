import { UsageError } from '../../errors.js';
import { parseKeyType } from '../../crypto/keys.js';
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
import type { ActionImplementation } from '../action.js';

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

export const accountShowAction: ActionImplementation = async (context) => ({
  value: await showAccount(context),
  render: renderAccount,
});

export const accountListAction: ActionImplementation = async (context) => ({
  value: await listLocalAccounts(context),
  render: renderList,
});

export const accountUpdateAction: ActionImplementation = async (context, options) => {
  const emails = parseEmails((options.email as string[] | undefined) ?? []);
  const agreeTos = options.agreeTos === true;
  if (emails.length === 0 && !agreeTos) throw new UsageError('account update needs --email ADDRESS or --agree-tos');
  return {
    value: await updateAccount(context, { ...(emails.length > 0 ? { emails } : {}), agreeTos }),
    render: renderAccount,
  };
};

export const accountDeactivateAction: ActionImplementation = async (context, options) => {
  if (options.yes !== true) {
    const agreed = context.confirm
      ? await context.confirm(
          `Deactivate account "${context.accountName}" at ${context.server}? This cannot be undone. [y/N] `,
          context.signal,
        )
      : false;
    if (!agreed) throw new UsageError('account deactivate is irreversible: confirm with --yes');
  }
  return { value: await deactivateAccount(context), render: renderAccount };
};

export const accountRolloverAction: ActionImplementation = async (context, options) => ({
  value: await rolloverAccountKey(
    context,
    typeof options.accountKeyType === 'string' ? parseKeyType(options.accountKeyType, '--account-key-type') : undefined,
  ),
  render: renderAccount,
});
