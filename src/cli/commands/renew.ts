import type { Command } from 'commander';
import type { ActionFor } from '../lazy-action.js';
import { collect } from '../options.js';

const EXAMPLES = `
Examples:
  acmecli renew                      renew every certificate that is due (twice a day from a timer)
  acmecli renew --quiet --random-sleep
  acmecli renew --cert-name example.com --force
  acmecli renew --dry-run            rehearse every renewal against the staging server
`;

export function registerRenewCommand(program: Command, actionFor: ActionFor): void {
  program
    .command('renew')
    .description('renew every certificate that is due, with the settings it was issued with')
    .option('--cert-name <name>', 'only this certificate (repeatable)', collect)
    .option(
      '--days <n>',
      "renew when fewer than this many days are left (instead of the CA's window or a third of the lifetime)",
    )
    .option('--force', 'renew even when not due')
    .option('--force-renewal', 'same as --force (certbot spelling)')
    .option('--dry-run', 'rehearse against the staging server; write nothing')
    .option('--random-sleep [seconds]', 'sleep a random time up to this many seconds first (default 3600), for cron')
    .addHelpText('after', EXAMPLES)
    .action(actionFor('renew'));
}
