import { parseKeyType } from '../../crypto/keys.js';
import { parseEmails, registerAccount, type RegisterResult } from '../../operations/register.js';
import { requiredKeyType } from '../../operations/servers.js';
import type { ActionImplementation } from '../action.js';
import { eabFromOptions } from '../eab.js';

function renderRegister(result: RegisterResult): string[] {
  const lines = [
    result.created
      ? `Registered account "${result.accountName}" with ${result.server}`
      : `Account "${result.accountName}" for ${result.server} already exists`,
    `  account URL: ${result.url}`,
  ];
  if (result.contact.length > 0) lines.push(`  contact:     ${result.contact.join(', ')}`);
  if (result.eabKeyId) lines.push(`  EAB key id:  ${result.eabKeyId}`);
  return lines;
}

export const registerAction: ActionImplementation = async (context, options, command) => {
  const eab = await eabFromOptions(options, command, context.reporter);
  const value = await registerAccount(context, {
    emails: parseEmails((options.email as string[] | undefined) ?? []),
    agreeTos: options.agreeTos === true,
    accountKeyType:
      typeof options.accountKeyType === 'string'
        ? parseKeyType(options.accountKeyType, '--account-key-type')
        : (requiredKeyType(context.server) ?? 'ec256'),
    force: options.force === true,
    ...(typeof options.accountKey === 'string' ? { accountKeyFile: options.accountKey } : {}),
    ...(eab ? { eab } : {}),
  });
  return { value, render: renderRegister };
};
