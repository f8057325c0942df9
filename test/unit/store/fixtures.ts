import type { RenewalSettings } from '../../../src/store/settings.js';
import type { CertificateFiles } from '../../../src/store/certificate-store.js';

export const SAMPLE_SETTINGS: RenewalSettings = {
  version: 1,
  server: 'https://acme.example/directory',
  account: 'default',
  identifiers: [
    { type: 'dns', value: 'example.com' },
    { type: 'dns', value: '*.example.com' },
  ],
  keyType: 'ec-p256',
  reuseKey: false,
  plugin: 'webroot',
  pluginSettings: { webroot: { webrootPath: '/var/www/html' } },
  preferredChallenges: ['http-01'],
  reloadCommand: 'systemctl reload nginx',
  extraFiles: { fullchainFile: '/etc/nginx/fullchain.pem' },
  dns01: { propagationTimeoutMs: 120000 },
};

/** Fake PEM texts; the store never parses them. Distinct per version so mixes are detectable. */
export function certificateFiles(version: number): CertificateFiles {
  const cert = `-----BEGIN CERTIFICATE-----\ncert v${version}\n-----END CERTIFICATE-----\n`;
  const chain = `-----BEGIN CERTIFICATE-----\nissuer v${version}\n-----END CERTIFICATE-----\n`;
  return {
    cert,
    chain,
    fullchain: cert + chain,
    privkey: `-----BEGIN PRIVATE KEY-----\nkey v${version}\n-----END PRIVATE KEY-----\n`,
  };
}

/** Stands in for crypto's key/certificate comparison: the fake PEMs carry their version. */
export function fakeMatches(certPem: string, keyPem: string): boolean {
  return /cert (v\d+)/.exec(certPem)?.[1] === /key (v\d+)/.exec(keyPem)?.[1];
}
