import type { Command } from 'commander';
import { listCertificates, type CertificateView } from '../../operations/certificates.js';
import { defineAction, type CliState } from '../action.js';
import { parseDays } from '../options.js';
import type { CliRuntime } from '../runtime.js';

export function registerCertificatesCommand(program: Command, runtime: CliRuntime, state: CliState): void {
  program
    .command('certificates')
    .description('list the certificates acmecli manages')
    .option('--days <n>', 'judge "due" as fewer than this many days left')
    .addHelpText('after', '\nExamples:\n  acmecli certificates\n  acmecli certificates --json | jq \'.result[] | select(.renewal.due)\'\n')
    .action(
      defineAction(runtime, state, async (context, options) => ({
        value: await listCertificates(context, options.days !== undefined ? { days: parseDays(String(options.days)) } : {}),
        render: renderCertificates,
      })),
    );
}

function renderCertificates(list: CertificateView[]): string {
  if (list.length === 0) return 'No certificates.\n';
  const blocks = list.map((c) => {
    if (c.error) return `${c.certName}\n  UNREADABLE: ${c.error}`;
    return [
      c.certName,
      `  domains:     ${c.identifiers.join(', ')}`,
      `  expires:     ${c.notAfter} (${c.daysLeft} days)`,
      `  renewal:     ${c.renewal?.due ? 'DUE now' : `after ${c.renewal?.renewAt}`} (${c.renewal?.reason})`,
      `  server:      ${c.server} (account ${c.account}, ${c.plugin})`,
      `  certificate: ${c.paths.cert}`,
      `  full chain:  ${c.paths.fullchain}`,
      `  private key: ${c.paths.privkey}`,
    ].join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}
