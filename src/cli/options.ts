/** Shared option parsers and option groups used by several commands. */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { DEFAULT_DNS01_SETTINGS, type Dns01Settings } from '../challenges/dns01/settings.js';
import { EAB_HMAC_KEY_ENV } from '../hooks/secret-env.js';

/** For repeatable options: `-d a -d b` → ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function parseSeconds(text: string, flag: string, { allowZero = true } = {}): number {
  const trimmed = String(text).trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed) || (!allowZero && Number(trimmed) === 0)) {
    throw new UsageError(
      `${flag} needs a number of seconds${allowZero ? '' : ' above 0'}, got ${JSON.stringify(text)}`,
    );
  }
  return Number(trimmed);
}

export function parseDays(text: string, flag = '--days'): number {
  const trimmed = String(text).trim();
  if (!/^\d+$/.test(trimmed)) throw new UsageError(`${flag} needs a whole number of days, got ${JSON.stringify(text)}`);
  return Number(trimmed);
}

export function addDns01Options(command: Command): void {
  command
    .addOption(
      new Option(
        '--challenge-alias <zone>',
        'dns-01: write _acme-challenge records under this zone instead (a static CNAME points there)',
      ),
    )
    .addOption(
      new Option(
        '--dns-resolver <host[:port]>',
        "dns-01: check propagation on these servers instead of the zone's authoritative ones (repeatable)",
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--dns-propagation-timeout <seconds>',
        `dns-01: how long to wait for the TXT records to be visible (default ${DEFAULT_DNS01_SETTINGS.propagationTimeoutMs / 1000})`,
      ),
    )
    .addOption(new Option('--dns-propagation-wait <seconds>', 'dns-01: wait this long instead of checking propagation'))
    .option(
      '--skip-dns-propagation-check',
      'dns-01: answer the challenge without checking that the records are visible',
    );
}

export function dns01SettingsFrom(options: Record<string, unknown>): Dns01Settings {
  const settings: Dns01Settings = { ...DEFAULT_DNS01_SETTINGS };
  if (typeof options.challengeAlias === 'string')
    settings.challengeAlias = options.challengeAlias.replace(/\.$/, '').toLowerCase();
  if (Array.isArray(options.dnsResolver))
    settings.resolvers = (options.dnsResolver as string[])
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
  if (options.dnsPropagationTimeout !== undefined) {
    settings.propagationTimeoutMs =
      parseSeconds(String(options.dnsPropagationTimeout), '--dns-propagation-timeout', { allowZero: false }) * 1000;
  }
  if (options.dnsPropagationWait !== undefined) {
    settings.propagationWaitMs = parseSeconds(String(options.dnsPropagationWait), '--dns-propagation-wait') * 1000;
  }
  if (options.skipDnsPropagationCheck === true) settings.skipPropagationCheck = true;
  return settings;
}

export function addAccountCreationOptions(command: Command): void {
  command
    .addOption(
      new Option('-m, --email <address>', 'contact e-mail for the account (repeatable, or comma-separated)')
        .argParser(collect)
        .env('ACMECLI_EMAIL'),
    )
    .option('--agree-tos', "agree to the CA's terms of service")
    .addOption(
      new Option('--eab-kid <id>', 'External Account Binding key id from your CA account').env('ACMECLI_EAB_KID'),
    )
    .addOption(
      new Option(
        '--eab-hmac-key <key>',
        `External Account Binding MAC key (base64url or base64; used once, never stored); a command line is visible to every local user (ps), so prefer ${EAB_HMAC_KEY_ENV} or --eab-hmac-key-file`,
      ).env(EAB_HMAC_KEY_ENV),
    )
    .addOption(
      new Option(
        '--eab-hmac-key-file <file>',
        'read the EAB MAC key from this file instead (surrounding whitespace ignored; /dev/stdin works)',
      ).env('ACMECLI_EAB_HMAC_KEY_FILE'),
    )
    .addOption(
      new Option('--eab-algorithm <alg>', 'MAC algorithm of the binding')
        .choices(['HS256', 'HS384', 'HS512'])
        .default('HS256'),
    );
}
