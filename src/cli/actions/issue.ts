import { Option } from 'commander';
import { UsageError } from '../../errors.js';
import { builtinPlugins } from '../../challenges/registry.js';
import { parsePreferredChallenges } from '../../challenges/select.js';
import { parseKeyType, type KeyType } from '../../crypto/keys.js';
import { validateCertName } from '../../store/layout.js';
import { loadAccount } from '../../store/account-store.js';
import type { ExtraFiles } from '../../store/settings.js';
import {
  issueCertificate,
  validateIssueRequest,
  type IssueRequest,
  type IssueResult,
  type PluginChoice,
} from '../../operations/issue.js';
import { issueForCsr, type CsrIssueRequest, type CsrIssueResult } from '../../operations/issue-csr.js';
import { registerAccount } from '../../operations/register.js';
import { dryRunServer, requiredKeyType } from '../../operations/servers.js';
import type { RunContext } from '../../operations/context.js';
import type { CommandAction, CommandLine } from '../action.js';
import { parseIdentifiers } from '../../crypto/identifiers.js';
import { resolveEab } from '../eab.js';
import { attributeOf, flagOption, listOption, parseDns01Settings, stringOption } from '../input.js';
import { webrootGroups } from '../webroot-groups.js';
import { parseRegistration, type RegistrationInput } from './register.js';

/** `issue --csr FILE`: the CSR names the key and the identifiers. */
export interface IssueForCsrInput {
  csr: CsrIssueRequest;
}

/** `issue -d NAME ...`: a new key, an order, a lineage kept renewed. */
export interface IssueOrderInput {
  order: Omit<IssueRequest, 'keyType' | 'connection' | 'accountName'>;
  /** Absent: what the server demands, else ec256. */
  keyType?: RequestedKeyType;
  /** For the account created on the fly when none exists yet, or for the binding given. */
  registration: RegistrationInput;
}

export type IssueInput = IssueForCsrInput | IssueOrderInput;

export interface RequestedKeyType {
  type: KeyType;
  /** certbot's bare `--key-type rsa`: any size, so the size a CA demands wins. */
  anyRsaSize: boolean;
}

type Preferences = Pick<IssueRequest, 'preferredChallenges' | 'preferredChain' | 'profile'>;

function parsePreferences(line: CommandLine): Preferences {
  const challenges = stringOptionList(line, '--preferred-challenges');
  const preferredChallenges = parsePreferredChallenges(challenges);
  const preferredChain = stringOption(line, '--preferred-chain');
  const profile = stringOption(line, '--profile');
  return {
    ...(preferredChallenges ? { preferredChallenges } : {}),
    ...(preferredChain !== undefined ? { preferredChain } : {}),
    ...(profile !== undefined ? { profile } : {}),
  };
}

/** A repeatable option, undefined when not given at all. */
function stringOptionList(line: CommandLine, flag: string): string[] | undefined {
  const values = listOption(line, flag);
  return values.length > 0 ? values : undefined;
}

function parseExtraFiles(line: CommandLine): ExtraFiles {
  const files: ExtraFiles = {};
  for (const [flag, key] of [
    ['--cert-file', 'certFile'],
    ['--key-file', 'keyFile'],
    ['--chain-file', 'chainFile'],
    ['--fullchain-file', 'fullchainFile'],
  ] as const) {
    const path = stringOption(line, flag);
    if (path !== undefined) files[key] = path;
  }
  return files;
}

/** Plugins named by their flag, or implied by their own options given on the command line. */
export function selectedPlugins(line: CommandLine): PluginChoice[] {
  const { values, args, cwd } = line;
  const choices: PluginChoice[] = [];
  for (const plugin of builtinPlugins) {
    const attributes = plugin.options.map((o) => attributeOf(o.flags));
    const given = attributes.filter((a) => values[a] !== undefined);
    const named = values[plugin.name] === true;
    // Options from the environment alone do not select a plugin (ACMECLI_NSUPDATE_SERVER may be set globally).
    const implied = plugin.options.some((o) => {
      const long = new Option(o.flags).long ?? '';
      const short = new Option(o.flags).short;
      return args.some(
        (arg) =>
          arg === long ||
          arg.startsWith(`${long}=`) ||
          (short !== undefined && (arg === short || (arg.startsWith(short) && !arg.startsWith('--')))),
      );
    });
    if (!named && !implied) continue;
    const raw: Record<string, unknown> = {};
    for (const attribute of given) raw[attribute] = values[attribute];
    if (plugin.name === 'webroot') {
      const groups = webrootGroups(args);
      if (Object.keys(groups).length > 0) raw.webrootMap = { ...parseJsonObject(values.webrootMap), ...groups };
    }
    if (plugin.name === 'manual') raw.manualHookWorkingDirectory = cwd;
    choices.push({ name: plugin.name, raw });
  }
  return choices;
}

/** `--webroot-map` JSON merged under the -w groups; a malformed value is left for the plugin to report. */
function parseJsonObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? Object.fromEntries(Object.entries(parsed))
      : {};
  } catch {
    return {};
  }
}

/** The first of --reload-cmd and its certbot and acme.sh spellings that is given. */
function parseReloadCommand(line: CommandLine): string | undefined {
  for (const flag of ['--reload-cmd', '--deploy-hook', '--reloadcmd']) {
    const command = stringOption(line, flag);
    if (command !== undefined) return command;
  }
  return undefined;
}

function parseRequestedKeyType(line: CommandLine): RequestedKeyType | undefined {
  const text = stringOption(line, '--key-type');
  if (text === undefined) return undefined;
  return { type: parseKeyType(text, '--key-type'), anyRsaSize: text.trim().toLowerCase() === 'rsa' };
}

function parseIssueInput(line: CommandLine): IssueInput {
  const csrPath = stringOption(line, '--csr');
  const domains = stringOptionList(line, '--domain');
  if (csrPath !== undefined) {
    return {
      csr: {
        csrPath,
        identifiers: domains ? parseIdentifiers(domains) : undefined,
        plugins: selectedPlugins(line),
        dns01: parseDns01Settings(line),
        extraFiles: parseExtraFiles(line),
        dryRun: flagOption(line, '--dry-run'),
        ...parsePreferences(line),
      },
    };
  }
  const identifiers = parseIdentifiers(domains ?? []);
  const [firstIdentifier] = identifiers;
  if (!firstIdentifier) throw new UsageError('no domains given: use -d NAME (repeatable)');
  // An IPv6 address is no file name (":"): its certificate is called ipv6-2001-db8--1.
  const first =
    firstIdentifier.type === 'ip' && firstIdentifier.value.includes(':')
      ? `ipv6-${firstIdentifier.value.replace(/:/g, '-')}`
      : firstIdentifier.value;
  const certName = validateCertName(stringOption(line, '--cert-name') ?? first);
  const keyType = parseRequestedKeyType(line);
  const reloadCommand = parseReloadCommand(line);
  return {
    order: {
      certName,
      identifiers,
      reuseKey: flagOption(line, '--reuse-key'),
      plugins: selectedPlugins(line),
      dns01: parseDns01Settings(line),
      dryRun: flagOption(line, '--dry-run'),
      force: flagOption(line, '--force') || flagOption(line, '--force-renewal'),
      extraFiles: parseExtraFiles(line),
      ...(reloadCommand !== undefined ? { reloadCommand } : {}),
      ...parsePreferences(line),
    },
    ...(keyType ? { keyType } : {}),
    registration: parseRegistration(line),
  };
}

/** The key type asked for, against what the server demands (certbot's bare `rsa` takes its size). */
function certificateKeyType(context: RunContext, requested: RequestedKeyType | undefined): KeyType {
  const required = requiredKeyType(context.server);
  if (requested === undefined) return required ?? 'ec256';
  const keyType = requested.anyRsaSize && required ? required : requested.type;
  if (required && keyType !== required)
    context.reporter.warn(
      `${context.server} accepts only ${required} keys; --key-type ${keyType} will probably be refused`,
    );
  return keyType;
}

/** Registers on the fly (certbot's habit) when no account exists yet or a binding is given. */
async function registerIfNeeded(context: RunContext, registration: RegistrationInput, dryRun: boolean): Promise<void> {
  const server = dryRun ? dryRunServer(context.server) : context.server;
  const hasAccount = (await loadAccount(context.configDir, server, context.accountName)) !== undefined;
  if (hasAccount && !registration.eab) return;
  const { eab, ...input } = registration;
  await registerAccount(
    { ...context, server },
    {
      ...input,
      ...(eab ? { eab: await resolveEab(eab, context.reporter) } : {}),
      accountKeyType: requiredKeyType(context.server) ?? 'ec256',
      force: false,
    },
  );
}

function renderIssueResult(result: IssueResult): string[] {
  if (result.status === 'not-due') {
    return [
      `Certificate "${result.certName}" (${result.identifiers.join(', ')}) is not due for renewal until ${result.decision?.renewAt.toISOString()}; nothing to do (--force issues it again).`,
    ];
  }
  const lines = [
    result.status === 'dry-run'
      ? `Dry run: a certificate for ${result.identifiers.join(', ')} was issued by the CA and not saved.`
      : `Certificate "${result.certName}" issued for ${result.identifiers.join(', ')}`,
    `  valid until:   ${result.notAfter}`,
  ];
  if (result.status === 'issued') {
    lines.push(
      `  certificate:   ${result.paths.cert}`,
      `  chain:         ${result.paths.chain}`,
      `  full chain:    ${result.paths.fullchain}`,
      `  private key:   ${result.paths.privkey}`,
    );
    for (const file of result.extraFiles) lines.push(`  copied to:     ${file}`);
    if (result.reloaded) lines.push('  reload command: succeeded');
  }
  return lines;
}

function renderCsrResult(result: CsrIssueResult): string[] {
  const lines = [
    `Certificate issued for ${result.identifiers.join(', ')} (CSR ${result.csrPath}), valid until ${result.notAfter}`,
  ];
  for (const file of result.files) lines.push(`  written: ${file}`);
  return lines;
}

function renderIssue(result: IssueResult | CsrIssueResult): string[] {
  return 'csrPath' in result ? renderCsrResult(result) : renderIssueResult(result);
}

export const issueAction: CommandAction<IssueInput, IssueResult | CsrIssueResult> = {
  parse: parseIssueInput,
  async run(context, input) {
    if ('csr' in input) return { value: await issueForCsr(context, input.csr), render: renderIssue };
    const request: IssueRequest = {
      ...input.order,
      keyType: certificateKeyType(context, input.keyType),
      connection: {
        server: context.server,
        ...(context.caBundle ? { caBundle: context.caBundle } : {}),
        ...(context.clientCert ? { clientCert: context.clientCert } : {}),
        ...(context.clientKey ? { clientKey: context.clientKey } : {}),
      },
      accountName: context.accountName,
    };
    validateIssueRequest(context, request);
    await registerIfNeeded(context, input.registration, request.dryRun);
    return { value: await issueCertificate(context, request), render: renderIssue };
  },
};
