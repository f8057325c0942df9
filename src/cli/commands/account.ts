import { Option, type Command } from 'commander';
import type { ActionFor } from '../lazy-action.js';
import { collect } from '../options.js';

export function registerAccountCommand(program: Command, actionFor: ActionFor): void {
  const account = program.command('account').description('show and manage ACME accounts');
  account
    .command('show')
    .description('show the account of --server / --account, as the CA sees it')
    .addHelpText('after', '\nExample:\n  acmecli account show --server letsencrypt\n')
    .action(actionFor('account show'));
  account
    .command('list')
    .description('list the accounts in the config dir')
    .addHelpText('after', '\nExample:\n  acmecli account list --json\n')
    .action(actionFor('account list'));
  account
    .command('update')
    .description('change the contact e-mail addresses')
    .addOption(
      new Option('-m, --email <address>', 'new contact (repeatable; replaces the old ones)').argParser(collect),
    )
    .option(
      '--agree-tos',
      'agree to the CA\'s changed terms of service (EJBCA: "Agree to new Terms of Service allowed")',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  acmecli account update --email ops@example.com --email admin@example.com\n  acmecli account update --agree-tos\n',
    )
    .action(actionFor('account update'));
  account
    .command('deactivate')
    .description('deactivate the account at the CA (irreversible)')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExample:\n  acmecli account deactivate --account old --yes\n')
    .action(actionFor('account deactivate'));
  account
    .command('rollover')
    .description('replace the account key (RFC 8555 key change)')
    .addOption(new Option('--account-key-type <type>', 'type of the new key (default: same as the old)'))
    .addHelpText('after', '\nExample:\n  acmecli account rollover --account-key-type ec384\n')
    .action(actionFor('account rollover'));
}
