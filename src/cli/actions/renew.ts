import { UsageError } from '../../errors.js';
import { renewCertificates, type RenewInput, type RenewResult } from '../../operations/renew.js';
import type { CommandAction, CommandLine } from '../action.js';
import { attributeOf, daysOption, flagOption, listOption, parseSeconds } from '../input.js';

/** `--random-sleep` alone sleeps up to an hour, as certbot's renew from cron. */
const DEFAULT_RANDOM_SLEEP_SECONDS = 3600;

/** One line per certificate: an error quoting the CA or a reload command stays on its line (escaped). */
function renderRenew(result: RenewResult): string[] {
  if (result.items.length === 0) return ['No certificates to renew.'];
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
  lines.push(
    `${result.renewed} renewed, ${result.failed} failed, ${result.items.length - result.renewed - result.failed} not due.`,
  );
  return lines;
}

function parseRandomSleep(line: CommandLine): number {
  const value = line.values[attributeOf('--random-sleep')];
  if (value === undefined) return 0;
  if (value === true) return DEFAULT_RANDOM_SLEEP_SECONDS;
  if (typeof value === 'string') return parseSeconds(value, '--random-sleep');
  throw new UsageError('--random-sleep needs a number of seconds or nothing');
}

export const renewAction: CommandAction<RenewInput, RenewResult> = {
  parse(line) {
    const certNames = listOption(line, '--cert-name');
    return {
      force: flagOption(line, '--force') || flagOption(line, '--force-renewal'),
      dryRun: flagOption(line, '--dry-run'),
      randomSleepSeconds: parseRandomSleep(line),
      ...(certNames.length > 0 ? { certNames } : {}),
      ...daysOption(line),
    };
  },
  async run(context, input) {
    const value = await renewCertificates(context, input);
    return { value, render: renderRenew, exitCode: value.exitCode };
  },
};
