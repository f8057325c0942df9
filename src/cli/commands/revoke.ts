import type { Command } from 'commander';
import { parseRevocationReason, revokeCertificate, type RevokeResult } from '../../operations/revoke.js';
import { defineAction, type CliState } from '../action.js';
import type { CliRuntime } from '../runtime.js';

const EXAMPLES = `
Examples:
  acmecli revoke --cert-name example.com --reason superseded
  acmecli revoke --cert-path /etc/ssl/example.pem --key-path /etc/ssl/example.key --reason keyCompromise
  acmecli revoke --cert-name old.example.com --delete
Reasons: unspecified (0), keyCompromise (1), cACompromise (2), affiliationChanged (3), superseded (4),
cessationOfOperation (5), certificateHold (6), removeFromCRL (8), privilegeWithdrawn (9), aACompromise (10)
`;

export function registerRevokeCommand(program: Command, runtime: CliRuntime, state: CliState): void {
  program
    .command('revoke')
    .description('revoke a certificate')
    .option('--cert-name <name>', 'a certificate acmecli manages')
    .option('--cert-path <file>', 'any certificate file (PEM)')
    .option('--key-path <file>', "sign the request with the certificate's own key (when the account is gone)")
    .option('--reason <reason>', 'RFC 5280 reason, by name or number (default unspecified)')
    .option('--delete', 'delete the certificate and its files after revoking')
    .option('--delete-after-revoke', 'same as --delete (certbot spelling)')
    .addHelpText('after', EXAMPLES)
    .action(
      defineAction(runtime, state, async (context, options) => {
        const value = await revokeCertificate(context, {
          deleteAfter: options.delete === true || options.deleteAfterRevoke === true,
          ...(typeof options.certName === 'string' ? { certName: options.certName } : {}),
          ...(typeof options.certPath === 'string' ? { certPath: options.certPath } : {}),
          ...(typeof options.keyPath === 'string' ? { keyPath: options.keyPath } : {}),
          ...(typeof options.reason === 'string' ? { reason: parseRevocationReason(options.reason) } : {}),
        });
        return { value, render: renderRevoke };
      }),
    );
}

function renderRevoke(result: RevokeResult): string {
  const lines = [`Revoked certificate ${result.serial} (${result.identifiers.join(', ')}), reason ${result.reason}, signed with the ${result.signedWith}`];
  if (result.deleted) lines.push(`Deleted certificate "${result.certName}"`);
  return `${lines.join('\n')}\n`;
}
