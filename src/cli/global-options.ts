/** The options every subcommand takes (declarations only: no work happens here). */
import { Option, type Command } from 'commander';

export interface GlobalOptions {
  configDir?: string;
  config?: string;
  server?: string;
  account?: string;
  caBundle?: string;
  clientCert?: string;
  clientKey?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  nonInteractive?: boolean;
  logFile?: string;
}

export function addGlobalOptions(program: Command): void {
  program
    .addOption(
      new Option(
        '--config-dir <dir>',
        'where accounts and certificates live (default: /etc/acmecli as root, ~/.config/acmecli otherwise, %ProgramData%\\acmecli on Windows)',
      ).env('ACMECLI_CONFIG_DIR'),
    )
    .addOption(
      new Option('-c, --config <file>', 'settings file (default: <config-dir>/config.ini)').env('ACMECLI_CONFIG'),
    )
    .addOption(
      new Option(
        '--server <url|name>',
        'ACME directory URL or a short name (letsencrypt, letsencrypt-staging, zerossl, google, buypass, sslcom, globalsign, certigna, certigna-test, ...)',
      ).env('ACMECLI_SERVER'),
    )
    .addOption(new Option('--account <name>', 'account name, for several accounts per server').env('ACMECLI_ACCOUNT'))
    .addOption(
      new Option(
        '--ca-bundle <file>',
        "PEM file of the CA that signs the ACME server's TLS certificate (private CAs)",
      ).env('ACMECLI_CA_BUNDLE'),
    )
    .addOption(
      new Option('--client-cert <file>', 'client certificate (PEM) for servers that demand one (EJBCA port 8443)').env(
        'ACMECLI_CLIENT_CERT',
      ),
    )
    .addOption(new Option('--client-key <file>', 'private key (PEM) of --client-cert').env('ACMECLI_CLIENT_KEY'))
    .option('--json', 'print one JSON document on stdout and nothing else there')
    .option('-q, --quiet', 'print only errors (for cron)')
    .option('-v, --verbose', 'print every step and request')
    .addOption(new Option('-n, --non-interactive', 'never ask anything; fail instead').env('ACMECLI_NON_INTERACTIVE'))
    .addOption(
      new Option('--log-file <file>', 'also append every message, with timestamps, to this file').env(
        'ACMECLI_LOG_FILE',
      ),
    );
}
