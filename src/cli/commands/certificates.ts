import type { Command } from 'commander';
import type { ActionFor } from '../lazy-action.js';

export function registerCertificatesCommand(program: Command, actionFor: ActionFor): void {
  program
    .command('certificates')
    .description('list the certificates acmecli manages')
    .option('--days <n>', 'judge "due" as fewer than this many days left')
    .addHelpText(
      'after',
      "\nExamples:\n  acmecli certificates\n  acmecli certificates --json | jq '.result[] | select(.renewal.due)'\n",
    )
    .action(actionFor('certificates'));
}
