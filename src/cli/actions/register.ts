import { parseKeyType, type KeyType } from '../../crypto/keys.js';
import { parseEmails, registerAccount, type RegisterResult } from '../../operations/register.js';
import { requiredKeyType } from '../../operations/servers.js';
import type { CommandLine, CommandAction } from '../action.js';
import { parseEab, resolveEab, type EabInput } from '../eab.js';
import { flagOption, listOption, stringOption } from '../input.js';

/** What creating an account takes from the options of `register` and `issue`. */
export interface RegistrationInput {
  emails: string[];
  agreeTos: boolean;
  eab?: EabInput;
}

export interface RegisterCommandInput extends RegistrationInput {
  /** Absent: what the server demands, else ec256. */
  accountKeyType?: KeyType;
  accountKeyFile?: string;
  force: boolean;
}

export function parseRegistration(line: CommandLine): RegistrationInput {
  const eab = parseEab(line);
  return {
    emails: parseEmails(listOption(line, '--email')),
    agreeTos: flagOption(line, '--agree-tos'),
    ...(eab ? { eab } : {}),
  };
}

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

export const registerAction: CommandAction<RegisterCommandInput, RegisterResult> = {
  parse(line) {
    const accountKeyType = stringOption(line, '--account-key-type');
    const accountKeyFile = stringOption(line, '--account-key');
    return {
      ...parseRegistration(line),
      ...(accountKeyType !== undefined ? { accountKeyType: parseKeyType(accountKeyType, '--account-key-type') } : {}),
      ...(accountKeyFile !== undefined ? { accountKeyFile } : {}),
      force: flagOption(line, '--force'),
    };
  },
  async run(context, { eab, accountKeyType, ...input }) {
    const value = await registerAccount(context, {
      ...input,
      accountKeyType: accountKeyType ?? requiredKeyType(context.server) ?? 'ec256',
      ...(eab ? { eab: await resolveEab(eab, context.reporter) } : {}),
    });
    return { value, render: renderRegister };
  },
};
