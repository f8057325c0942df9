import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseKeyType } from '../../crypto/keys.js';
import { deactivateAccount, listLocalAccounts, rolloverAccountKey, showAccount, updateAccountContact, type AccountView } from '../../operations/account.js';
import { parseEmails } from '../../operations/register.js';
import type { AccountListing } from '../../store/account-store.js';
import { defineAction, type CliState } from '../action.js';
import { collect } from '../options.js';
import type { CliRuntime } from '../runtime.js';

function renderAccount(view: AccountView): string {
  const lines = [`Account "${view.accountName}" at ${view.server}`, `  URL:      ${view.url}`];
  if (view.status) lines.push(`  status:   ${view.status}`);
  lines.push(`  contact:  ${view.contact.join(', ') || '(none)'}`, `  created:  ${view.createdAt}`);
  if (view.keyType) lines.push(`  key:      ${view.keyType}`);
  if (view.eabKeyId) lines.push(`  EAB kid:  ${view.eabKeyId}`);
  return `${lines.join('\n')}\n`;
}

function renderList(list: AccountListing[]): string {
  if (list.length === 0) return 'No accounts.\n';
  return `${list.map((a) => `${a.name}\t${a.record?.server ?? a.serverKey}\t${a.record?.url ?? `unreadable: ${a.error?.message}`}`).join('\n')}\n`;
}

export function registerAccountCommand(program: Command, runtime: CliRuntime, state: CliState): void {
  const account = program.command('account').description('show and manage ACME accounts');
  account
    .command('show')
    .description("show the account of --server / --account, as the CA sees it")
    .addHelpText('after', '\nExample:\n  acmecli account show --server letsencrypt\n')
    .action(defineAction(runtime, state, async (context) => ({ value: await showAccount(context), render: renderAccount })));
  account
    .command('list')
    .description('list the accounts in the config dir')
    .addHelpText('after', '\nExample:\n  acmecli account list --json\n')
    .action(defineAction(runtime, state, async (context) => ({ value: await listLocalAccounts(context), render: renderList })));
  account
    .command('update')
    .description('change the contact e-mail addresses')
    .addOption(new Option('-m, --email <address>', 'new contact (repeatable; replaces the old ones)').argParser(collect))
    .addHelpText('after', '\nExample:\n  acmecli account update --email ops@example.com --email admin@example.com\n')
    .action(
      defineAction(runtime, state, async (context, options) => {
        const emails = parseEmails((options.email as string[] | undefined) ?? []);
        if (emails.length === 0) throw new UsageError('account update needs --email ADDRESS');
        return { value: await updateAccountContact(context, emails), render: renderAccount };
      }),
    );
  account
    .command('deactivate')
    .description('deactivate the account at the CA (irreversible)')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExample:\n  acmecli account deactivate --account old --yes\n')
    .action(
      defineAction(runtime, state, async (context, options) => {
        if (options.yes !== true) {
          const agreed = context.confirm ? await context.confirm(`Deactivate account "${context.accountName}" at ${context.server}? This cannot be undone. [y/N] `, context.signal) : false;
          if (!agreed) throw new UsageError('account deactivate is irreversible: confirm with --yes');
        }
        return { value: await deactivateAccount(context), render: renderAccount };
      }),
    );
  account
    .command('rollover')
    .description('replace the account key (RFC 8555 key change)')
    .addOption(new Option('--account-key-type <type>', 'type of the new key (default: same as the old)'))
    .addHelpText('after', '\nExample:\n  acmecli account rollover --account-key-type ec384\n')
    .action(
      defineAction(runtime, state, async (context, options) => ({
        value: await rolloverAccountKey(context, typeof options.accountKeyType === 'string' ? parseKeyType(options.accountKeyType, '--account-key-type') : undefined),
        render: renderAccount,
      })),
    );
}
