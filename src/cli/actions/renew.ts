import { renewCertificates, type RenewResult } from '../../operations/renew.js';
import type { ActionImplementation } from '../action.js';
import { parseDays, parseSeconds } from '../options.js';

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

export const renewAction: ActionImplementation = async (context, options) => {
  const randomSleep =
    options.randomSleep === true
      ? 3600
      : options.randomSleep === undefined
        ? 0
        : parseSeconds(String(options.randomSleep), '--random-sleep');
  const value = await renewCertificates(context, {
    force: options.force === true || options.forceRenewal === true,
    dryRun: options.dryRun === true,
    randomSleepSeconds: randomSleep,
    ...(options.certName ? { certNames: options.certName as string[] } : {}),
    ...(options.days !== undefined ? { days: parseDays(String(options.days)) } : {}),
  });
  return { value, render: renderRenew, exitCode: value.exitCode };
};
