import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import type { CliRuntime, CliState } from '../runtime.js';

export function registerScheduleCommand(program: Command, runtime: CliRuntime, state: CliState): void {
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
    .action(lazyAction(runtime, state, 'schedule install'));
  schedule
    .command('remove')
    .description('remove the renewal job')
    .addHelpText('after', '\nExample:\n  sudo acmecli schedule remove\n')
    .action(lazyAction(runtime, state, 'schedule remove'));
  schedule
    .command('show')
    .description('show whether and how the renewal job is installed')
    .addHelpText('after', '\nExample:\n  acmecli schedule show --json\n')
    .action(lazyAction(runtime, state, 'schedule show'));
}
