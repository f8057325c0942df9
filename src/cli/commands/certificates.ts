import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import type { CliRuntime, CliState } from '../runtime.js';

export function registerCertificatesCommand(program: Command, runtime: CliRuntime, state: CliState): void {
  program
    .command('certificates')
    .description('list the certificates acmecli manages')
    .option('--days <n>', 'judge "due" as fewer than this many days left')
    .addHelpText(
      'after',
      "\nExamples:\n  acmecli certificates\n  acmecli certificates --json | jq '.result[] | select(.renewal.due)'\n",
    )
    .action(lazyAction(runtime, state, 'certificates'));
}
