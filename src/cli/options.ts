/** Option groups and parsers used by several commands' declarations (loaded at start-up: keep it light). */
import { Option, type Command } from 'commander';
import { DEFAULT_DNS01_SETTINGS } from '../challenges/dns01/settings.js';
import { EAB_HMAC_KEY_ENV } from '../hooks/secret-env.js';

/** For repeatable options: `-d a -d b` → ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
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
