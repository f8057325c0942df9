import type { Command } from 'commander';
import type { ActionFor } from '../lazy-action.js';

export function registerScheduleCommand(program: Command, actionFor: ActionFor): void {
  const schedule = program
    .command('schedule')
    .description('run `acmecli renew` twice a day: a systemd timer, a cron entry, or a Windows Scheduled Task');
  schedule
    .command('install')
    .description('install the renewal job')
    .addHelpText(
      'after',
      '\nExamples:\n  sudo acmecli schedule install\n  acmecli --config-dir /srv/acme schedule install\n',
    )
    .action(actionFor('schedule install'));
  schedule
    .command('remove')
    .description('remove the renewal job')
    .addHelpText('after', '\nExample:\n  sudo acmecli schedule remove\n')
    .action(actionFor('schedule remove'));
  schedule
    .command('show')
    .description('show whether and how the renewal job is installed')
    .addHelpText('after', '\nExample:\n  acmecli schedule show --json\n')
    .action(actionFor('schedule show'));
}
