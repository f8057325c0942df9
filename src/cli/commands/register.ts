import { Option, type Command } from 'commander';
import type { ActionFor } from '../lazy-action.js';
import { addAccountCreationOptions } from '../options.js';

const EXAMPLES = `
Examples:
  acmecli register --email admin@example.com --agree-tos
  acmecli register --server certigna-test --eab-kid 6136f1b5-39c8-4417-b8a7-c4114b092be6 --eab-hmac-key-file /root/certigna-eab.key --agree-tos
  acmecli register --server https://ca.internal:8443/ejbca/acme/alias1/directory --ca-bundle /etc/pki/internal-ca.pem --client-cert ra.pem --client-key ra.key --agree-tos
`;

export function registerRegisterCommand(program: Command, actionFor: ActionFor): void {
  const command = program.command('register').description('create an ACME account (or find the one of this key)');
  addAccountCreationOptions(command);
  command
    .addOption(
      new Option('--account-key-type <type>', 'account key: ec256 (default), ec384, rsa2048, rsa3072, rsa4096'),
    )
    .option('--account-key <file>', 'use this existing private key (PEM) as the account key')
    .option('--force', 'replace the local account of this server and name')
    .addHelpText('after', EXAMPLES)
    .action(actionFor('register'));
}
