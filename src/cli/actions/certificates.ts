import { listCertificates, type CertificateView } from '../../operations/certificates.js';
import type { CommandAction } from '../action.js';
import { daysOption } from '../input.js';

export interface CertificatesInput {
  days?: number;
}

function renderCertificates(list: CertificateView[]): string[] {
  if (list.length === 0) return ['No certificates.'];
  return list.flatMap((c, index) => {
    const gap = index === 0 ? [] : [''];
    if (c.error) return [...gap, c.certName, `  UNREADABLE: ${c.error}`];
    return [
      ...gap,
      c.certName,
      `  domains:     ${c.identifiers.join(', ')}`,
      `  expires:     ${c.notAfter} (${c.daysLeft} days)`,
      `  renewal:     ${c.renewal?.due ? 'DUE now' : `after ${c.renewal?.renewAt}`} (${c.renewal?.reason})`,
      `  server:      ${c.server} (account ${c.account}, ${c.plugin})`,
      `  certificate: ${c.paths.cert}`,
      `  full chain:  ${c.paths.fullchain}`,
      `  private key: ${c.paths.privkey}`,
    ];
  });
}

export const certificatesAction: CommandAction<CertificatesInput, CertificateView[]> = {
  parse: daysOption,
  async run(context, input) {
    return { value: await listCertificates(context, input), render: renderCertificates };
  },
};
