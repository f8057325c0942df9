import { parseRevocationReason, revokeCertificate, type RevokeResult } from '../../operations/revoke.js';
import type { ActionImplementation } from '../action.js';

function renderRevoke(result: RevokeResult): string[] {
  const lines = [
    `Revoked certificate ${result.serial} (${result.identifiers.join(', ')}), reason ${result.reason}, signed with the ${result.signedWith}`,
  ];
  if (result.deleted) lines.push(`Deleted certificate "${result.certName}"`);
  return lines;
}

export const revokeAction: ActionImplementation = async (context, options) => {
  const value = await revokeCertificate(context, {
    deleteAfter: options.delete === true || options.deleteAfterRevoke === true,
    ...(typeof options.certName === 'string' ? { certName: options.certName } : {}),
    ...(typeof options.certPath === 'string' ? { certPath: options.certPath } : {}),
    ...(typeof options.keyPath === 'string' ? { keyPath: options.keyPath } : {}),
    ...(typeof options.reason === 'string' ? { reason: parseRevocationReason(options.reason) } : {}),
  });
  return { value, render: renderRevoke };
};
