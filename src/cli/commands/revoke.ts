import type { Command } from 'commander';
import type { ActionFor } from '../lazy-action.js';

const EXAMPLES = `
Examples:
  acmecli revoke --cert-name example.com --reason superseded
  acmecli revoke --cert-path /etc/ssl/example.pem --key-path /etc/ssl/example.key --reason keyCompromise
  acmecli revoke --cert-name old.example.com --delete
Reasons: unspecified (0), keyCompromise (1), cACompromise (2), affiliationChanged (3), superseded (4),
cessationOfOperation (5), certificateHold (6), removeFromCRL (8), privilegeWithdrawn (9), aACompromise (10)
`;

export function registerRevokeCommand(program: Command, actionFor: ActionFor): void {
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
    .action(actionFor('revoke'));
}
