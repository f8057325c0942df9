/**
 * Short names for well-known ACME directories (`--server NAME`), and which staging directory a
 * `--dry-run` uses instead of a production one.
 */
import { UsageError } from '../errors.js';
import { assertAcceptableUrl } from '../acme/transport.js';

export interface KnownServer {
  name: string;
  url: string;
  description: string;
  /** Name of the matching test directory, used by --dry-run. */
  staging?: string;
  /** Key type this CA insists on, used when the user gives none (Certigna: RSA 3072 only). */
  keyType?: 'rsa3072';
}

export const KNOWN_SERVERS: readonly KnownServer[] = [
  {
    name: 'letsencrypt',
    url: 'https://acme-v02.api.letsencrypt.org/directory',
    description: "Let's Encrypt",
    staging: 'letsencrypt-staging',
  },
  {
    name: 'letsencrypt-staging',
    url: 'https://acme-staging-v02.api.letsencrypt.org/directory',
    description: "Let's Encrypt staging",
  },
  { name: 'zerossl', url: 'https://acme.zerossl.com/v2/DV90', description: 'ZeroSSL (needs EAB)' },
  {
    name: 'google',
    url: 'https://dv.acme-v02.api.pki.goog/directory',
    description: 'Google Trust Services (needs EAB)',
    staging: 'google-staging',
  },
  {
    name: 'google-staging',
    url: 'https://dv.acme-v02.test-api.pki.goog/directory',
    description: 'Google Trust Services staging (needs EAB)',
  },
  {
    name: 'buypass',
    url: 'https://api.buypass.com/acme/directory',
    description: 'Buypass Go SSL',
    staging: 'buypass-test',
  },
  { name: 'buypass-test', url: 'https://api.test4.buypass.no/acme/directory', description: 'Buypass test' },
  { name: 'sslcom', url: 'https://acme.ssl.com/sslcom-dv-ecc', description: 'SSL.com ECC (needs EAB)' },
  { name: 'sslcom-rsa', url: 'https://acme.ssl.com/sslcom-dv-rsa', description: 'SSL.com RSA (needs EAB)' },
  {
    name: 'globalsign',
    url: 'https://emea.acme.atlas.globalsign.com/directory',
    description: 'GlobalSign Atlas (needs EAB)',
  },
  {
    name: 'certigna',
    url: 'https://acme-ov.certigna.com/directory',
    description: 'Certigna (needs EAB, RSA 3072 keys)',
    staging: 'certigna-test',
    keyType: 'rsa3072',
  },
  {
    name: 'certigna-test',
    url: 'https://acme-ov-test.certigna.com/directory',
    description: 'Certigna test (needs EAB, RSA 3072 keys)',
    keyType: 'rsa3072',
  },
];

export const DEFAULT_SERVER = 'letsencrypt';

/** A short name or a URL → the directory URL. */
export function resolveServer(value: string, flag = '--server'): string {
  const trimmed = value.trim();
  const known = KNOWN_SERVERS.find((s) => s.name === trimmed.toLowerCase());
  if (known) return known.url;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new UsageError(
      `unknown server name "${trimmed}" for ${flag}: use a directory URL or one of ${KNOWN_SERVERS.map((s) => s.name).join(', ')}`,
    );
  }
  return assertAcceptableUrl(trimmed, flag).href;
}

/** The directory a dry run talks to: the staging twin of a known production server, else the same. */
export function dryRunServer(url: string): string {
  const known = KNOWN_SERVERS.find((s) => s.url === url);
  const staging = known?.staging ? KNOWN_SERVERS.find((s) => s.name === known.staging) : undefined;
  return staging?.url ?? url;
}

export function serverDisplayName(url: string): string {
  const known = KNOWN_SERVERS.find((s) => s.url === url);
  return known ? `${known.name} (${url})` : url;
}

/** The key type a known CA requires, for defaults. */
export function requiredKeyType(url: string): 'rsa3072' | undefined {
  return KNOWN_SERVERS.find((s) => s.url === url)?.keyType;
}
