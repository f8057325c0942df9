import { Option, type Command } from 'commander';
import { builtinPluginSpecs } from '../../challenges/specs.js';
import type { ActionFor } from '../lazy-action.js';
import { addAccountCreationOptions, addDns01Options, collect } from '../options.js';

const EXAMPLES = `
Examples:
  acmecli issue -d example.com -d www.example.com --webroot -w /var/www/html --reload-cmd "systemctl reload nginx"
  acmecli issue -d example.com --standalone --email admin@example.com --agree-tos
  acmecli issue -d '*.example.com' -d example.com --nsupdate --nsupdate-server ns1.example.com --nsupdate-key-file /etc/bind/acme.key
  acmecli issue -d test.example.com --manual --preferred-challenges dns-01 --manual-auth-hook ./createtxt.sh --manual-cleanup-hook ./cleantxt.sh
  acmecli issue --server certigna-test --eab-kid KID --eab-hmac-key-file /root/eab.key --agree-tos -d test.example.com --standalone
`;

export function registerIssueCommand(program: Command, actionFor: ActionFor): void {
  const command = program
    .command('issue')
    .alias('certonly')
    .description('obtain a certificate and keep it renewed')
    .addOption(
      new Option(
        '-d, --domain <names>',
        'name or IP address for the certificate (repeatable, or comma-separated); wildcards as "*.example.com"',
      ).argParser(collect),
    )
    .option('--cert-name <name>', 'name of the certificate on disk (default: the first -d name)')
    .option('--webroot', "prove control with files in a running web server's document root (http-01)")
    .option('--standalone', 'prove control with a built-in server on ports 80/443 (http-01, tls-alpn-01)')
    .option('--manual', 'prove control with your own hook scripts, or by hand (http-01, dns-01)')
    .option('--nsupdate', 'prove control with RFC 2136 dynamic DNS updates (dns-01)');
  for (const plugin of builtinPluginSpecs) {
    for (const spec of plugin.options) {
      const option = new Option(spec.flags, `${plugin.name}: ${spec.description}`);
      if (spec.env) option.env(spec.env);
      if (spec.repeatable) option.argParser(collect);
      command.addOption(option);
    }
  }
  command
    .addOption(
      new Option(
        '--preferred-challenges <types>',
        'challenge types in order of preference: http-01, dns-01, tls-alpn-01 (comma-separated)',
      ).argParser(collect),
    )
    .addOption(
      new Option('--key-type <type>', 'certificate key: ec256 (default), ec384, rsa2048, rsa3072, rsa4096').env(
        'ACMECLI_KEY_TYPE',
      ),
    )
    .option('--reuse-key', 'keep the same certificate key on renewal')
    .option(
      '--csr <file>',
      'issue for this CSR (PEM or DER) instead of a new key; writes only --cert-file/--chain-file/--fullchain-file',
    )
    .option(
      '--preferred-chain <issuer>',
      "use the CA's alternate chain whose top certificate is issued by this common name",
    )
    .option('--profile <name>', 'certificate profile offered by the CA (ACME profiles)')
    .option('--cert-file <path>', 'also copy the certificate here')
    .option('--key-file <path>', 'also copy the private key here (mode 0600)')
    .option('--chain-file <path>', 'also copy the chain (intermediates) here')
    .option('--fullchain-file <path>', 'also copy certificate + chain here')
    .option('--reload-cmd <command>', 'run after a successful issue or renew, e.g. "systemctl reload nginx"')
    .addOption(new Option('--deploy-hook <command>', 'same as --reload-cmd (certbot spelling)').hideHelp())
    .addOption(new Option('--reloadcmd <command>', 'same as --reload-cmd (acme.sh spelling)').hideHelp());
  addAccountCreationOptions(command);
  addDns01Options(command);
  command
    .option('--dry-run', "run the whole protocol against the CA's staging server (or the given one); write nothing")
    .option('--force', 'issue again even when the certificate is not due')
    .addOption(new Option('--force-renewal', 'same as --force (certbot spelling)').hideHelp())
    .addHelpText('after', EXAMPLES)
    .action(actionFor('issue'));
}
