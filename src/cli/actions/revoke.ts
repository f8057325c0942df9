import {
  parseRevocationReason,
  revokeCertificate,
  type RevokeInput,
  type RevokeResult,
} from '../../operations/revoke.js';
import type { CommandAction } from '../action.js';
import { flagOption, stringOption } from '../input.js';

function renderRevoke(result: RevokeResult): string[] {
  const lines = [
    `Revoked certificate ${result.serial} (${result.identifiers.join(', ')}), reason ${result.reason}, signed with the ${result.signedWith}`,
  ];
  if (result.deleted) lines.push(`Deleted certificate "${result.certName}"`);
  return lines;
}

export const revokeAction: CommandAction<RevokeInput, RevokeResult> = {
  parse(line) {
    const certName = stringOption(line, '--cert-name');
    const certPath = stringOption(line, '--cert-path');
    const keyPath = stringOption(line, '--key-path');
    const reason = stringOption(line, '--reason');
    return {
      deleteAfter: flagOption(line, '--delete') || flagOption(line, '--delete-after-revoke'),
      ...(certName !== undefined ? { certName } : {}),
      ...(certPath !== undefined ? { certPath } : {}),
      ...(keyPath !== undefined ? { keyPath } : {}),
      ...(reason !== undefined ? { reason: parseRevocationReason(reason) } : {}),
    };
  },
  async run(context, input) {
    return { value: await revokeCertificate(context, input), render: renderRevoke };
  },
};
