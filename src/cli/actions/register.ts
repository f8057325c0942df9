import { UsageError } from '../../errors.js';
import { parseKeyType } from '../../crypto/keys.js';
import type { EabAlgorithm } from '../../acme/jws.js';
import { parseEmails, registerAccount, type RegisterResult } from '../../operations/register.js';
import { requiredKeyType } from '../../operations/servers.js';
import type { ActionImplementation } from '../action.js';



function renderRegister(result: RegisterResult): string[] {
  const lines = [
    result.created ? `Registered account "${result.accountName}" with ${result.server}` : `Account "${result.accountName}" for ${result.server} already exists`,
    `  account URL: ${result.url}`,
  ];
  if (result.contact.length > 0) lines.push(`  contact:     ${result.contact.join(', ')}`);
  if (result.eabKeyId) lines.push(`  EAB key id:  ${result.eabKeyId}`);
  return lines;
}

export const registerAction: ActionImplementation = async (context, options) => {
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
      };
