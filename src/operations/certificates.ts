/** `certificates`: every lineage with its names, dates, renewal decision and file paths. */
import { parseCertificate } from '../crypto/certificate.js';
import { listLineages } from '../store/certificate-store.js';
import type { RunContext } from './context.js';
import { decideRenewal } from './renewal-decision.js';

export interface CertificateView {
  certName: string;
  identifiers: string[];
  serial?: string;
  issuer?: string;
  notBefore?: string;
  notAfter?: string;
  daysLeft?: number;
  renewal?: { due: boolean; renewAt: string; reason: string };
  server?: string;
  account?: string;
  plugin?: string;
  paths: { dir: string; cert?: string; chain?: string; fullchain?: string; privkey?: string };
  error?: string;
}

export async function listCertificates(
  context: RunContext,
  options: { days?: number } = {},
): Promise<CertificateView[]> {
  const now = context.now();
  const listings = await listLineages(context.configDir);
  return listings.map((listing) => {
    if (!listing.lineage) {
      return {
        certName: listing.certName,
        identifiers: [],
        paths: { dir: listing.dir },
        error: listing.error?.message ?? 'unreadable',
      };
    }
    const { lineage } = listing;
    const info = parseCertificate(lineage.files.cert);
    const decision = decideRenewal({
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      now,
      ...(options.days !== undefined ? { days: options.days } : {}),
    });
    return {
      certName: listing.certName,
      identifiers: info.identifiers.map((i) => i.value),
      serial: info.serialHex,
      ...(info.issuerCommonName ? { issuer: info.issuerCommonName } : {}),
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
      daysLeft: Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000),
      renewal: { due: decision.due, renewAt: decision.renewAt.toISOString(), reason: decision.reason },
      server: lineage.settings.server,
      account: lineage.settings.account,
      plugin: lineage.settings.plugin,
      paths: {
        dir: lineage.paths.dir,
        cert: lineage.paths.cert,
        chain: lineage.paths.chain,
        fullchain: lineage.paths.fullchain,
        privkey: lineage.paths.privkey,
      },
    };
  });
}
