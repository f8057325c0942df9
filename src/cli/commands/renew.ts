import type { Command } from 'commander';
import { renewCertificates, type RenewResult } from '../../operations/renew.js';
import { defineAction, type CliState } from '../action.js';
import { collect, parseDays, parseSeconds } from '../options.js';
import type { CliRuntime } from '../runtime.js';

const EXAMPLES = `
Examples:
  acmecli renew                      renew every certificate that is due (twice a day from a timer)
  acmecli renew --quiet --random-sleep
  acmecli renew --cert-name example.com --force
  acmecli renew --dry-run            rehearse every renewal against the staging server
`;

export function registerRenewCommand(program: Command, runtime: CliRuntime, state: CliState): void {
  program
    .command('renew')
    .description('renew every certificate that is due, with the settings it was issued with')
    .option('--cert-name <name>', 'only this certificate (repeatable)', collect)
    .option('--days <n>', 'renew when fewer than this many days are left (instead of the CA\'s window or a third of the lifetime)')
    .option('--force', 'renew even when not due')
    .option('--force-renewal', 'same as --force (certbot spelling)')
    .option('--dry-run', 'rehearse against the staging server; write nothing')
    .option('--random-sleep [seconds]', 'sleep a random time up to this many seconds first (default 3600), for cron')
    .addHelpText('after', EXAMPLES)
    .action(
      defineAction(runtime, state, async (context, options) => {
        const randomSleep = options.randomSleep === true ? 3600 : options.randomSleep === undefined ? 0 : parseSeconds(String(options.randomSleep), '--random-sleep');
        const value = await renewCertificates(context, {
          force: options.force === true || options.forceRenewal === true,
          dryRun: options.dryRun === true,
          randomSleepSeconds: randomSleep,
          ...(options.certName ? { certNames: options.certName as string[] } : {}),
          ...(options.days !== undefined ? { days: parseDays(String(options.days)) } : {}),
        });
        return { value, render: renderRenew, exitCode: value.exitCode };
      }),
    );
}

function renderRenew(result: RenewResult): string {
  if (result.items.length === 0) return 'No certificates to renew.\n';
  const lines = result.items.map((item) => {
    switch (item.outcome) {
      case 'renewed':
        return `${item.certName}: renewed, valid until ${item.notAfter}`;
      case 'dry-run':
        return `${item.certName}: dry run succeeded`;
      case 'not-due':
        return `${item.certName}: not due until ${item.decision?.renewAt.toISOString()} (${item.decision?.reason})`;
      default:
        return `${item.certName}: FAILED: ${item.error?.message}`;
    }
  });
  lines.push(`${result.renewed} renewed, ${result.failed} failed, ${result.items.length - result.renewed - result.failed} not due.`);
  return `${lines.join('\n')}\n`;
}
