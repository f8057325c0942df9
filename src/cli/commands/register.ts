import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseKeyType } from '../../crypto/keys.js';
import type { EabAlgorithm } from '../../acme/jws.js';
import { parseEmails, registerAccount, type RegisterResult } from '../../operations/register.js';
import { requiredKeyType } from '../../operations/servers.js';
import { defineAction, type CliState } from '../action.js';
import { addAccountCreationOptions } from '../options.js';
import type { CliRuntime } from '../runtime.js';

const EXAMPLES = `
Examples:
  acmecli register --email admin@example.com --agree-tos
  acmecli register --server certigna-test --eab-kid 6136f1b5-39c8-4417-b8a7-c4114b092be6 --eab-hmac-key fh2fRV_yZ3NJ... --agree-tos
  acmecli register --server https://ca.internal:8443/ejbca/acme/alias1/directory --ca-bundle /etc/pki/internal-ca.pem --client-cert ra.pem --client-key ra.key --agree-tos
`;

export function registerRegisterCommand(program: Command, runtime: CliRuntime, state: CliState): void {
  const command = program.command('register').description('create an ACME account (or find the one of this key)');
  addAccountCreationOptions(command);
  command
    .addOption(new Option('--account-key-type <type>', 'account key: ec256 (default), ec384, rsa2048, rsa3072, rsa4096'))
    .option('--account-key <file>', 'use this existing private key (PEM) as the account key')
    .option('--force', 'replace the local account of this server and name')
    .addHelpText('after', EXAMPLES)
    .action(
      defineAction(runtime, state, async (context, options) => {
        if ((typeof options.eabKid === 'string') !== (typeof options.eabHmacKey === 'string')) {
          throw new UsageError('--eab-kid and --eab-hmac-key go together');
        }
        const value = await registerAccount(context, {
          emails: parseEmails((options.email as string[] | undefined) ?? []),
          agreeTos: options.agreeTos === true,
          accountKeyType: typeof options.accountKeyType === 'string'
            ? parseKeyType(options.accountKeyType, '--account-key-type')
            : requiredKeyType(context.server) ?? 'ec256',
          force: options.force === true,
          ...(typeof options.accountKey === 'string' ? { accountKeyFile: options.accountKey } : {}),
          ...(typeof options.eabKid === 'string'
            ? { eab: { keyId: options.eabKid, hmacKey: options.eabHmacKey as string, algorithm: options.eabAlgorithm as EabAlgorithm } }
            : {}),
        });
        return { value, render: renderRegister };
      }),
    );
}

function renderRegister(result: RegisterResult): string {
  const lines = [
    result.created ? `Registered account "${result.accountName}" with ${result.server}` : `Account "${result.accountName}" for ${result.server} already exists`,
    `  account URL: ${result.url}`,
  ];
  if (result.contact.length > 0) lines.push(`  contact:     ${result.contact.join(', ')}`);
  if (result.eabKeyId) lines.push(`  EAB key id:  ${result.eabKeyId}`);
  return `${lines.join('\n')}\n`;
}
