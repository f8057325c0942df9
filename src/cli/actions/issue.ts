import { Option, type Command } from 'commander';
import type { Identifier } from '../../acme/types.js';
import { UsageError } from '../../errors.js';
import { builtinPlugins } from '../../challenges/registry.js';
import { parsePreferredChallenges } from '../../challenges/select.js';
import { parseKeyType, type KeyType } from '../../crypto/keys.js';
import { validateCertName } from '../../store/layout.js';
import { loadAccount } from '../../store/account-store.js';
import type { ExtraFiles } from '../../store/settings.js';
import { issueCertificate, validateIssueRequest, type IssueResult, type PluginChoice } from '../../operations/issue.js';
import { issueForCsr, type CsrIssueResult } from '../../operations/issue-csr.js';
import { parseEmails, registerAccount } from '../../operations/register.js';
import { dryRunServer, requiredKeyType } from '../../operations/servers.js';
import type { RunContext } from '../../operations/context.js';
import type { ActionImplementation, ActionOutcome } from '../action.js';
import { parseIdentifiers } from '../../crypto/identifiers.js';
import { eabFromOptions } from '../eab.js';
import { dns01SettingsFrom } from '../options.js';
import { webrootGroups } from '../webroot-groups.js';

function pluginOptionAttribute(flags: string): string {
  return new Option(flags).attributeName();
}

function preferences(options: Record<string, unknown>) {
  const preferredChallenges = parsePreferredChallenges(options.preferredChallenges as string[] | undefined);
  return {
    ...(preferredChallenges ? { preferredChallenges } : {}),
    ...(typeof options.preferredChain === 'string' ? { preferredChain: options.preferredChain } : {}),
    ...(typeof options.profile === 'string' ? { profile: options.profile } : {}),
  };
}

function extraFilesFrom(options: Record<string, unknown>): ExtraFiles {
  return {
    ...(typeof options.certFile === 'string' ? { certFile: options.certFile } : {}),
    ...(typeof options.keyFile === 'string' ? { keyFile: options.keyFile } : {}),
    ...(typeof options.chainFile === 'string' ? { chainFile: options.chainFile } : {}),
    ...(typeof options.fullchainFile === 'string' ? { fullchainFile: options.fullchainFile } : {}),
  };
}

/** Plugins named by their flag, or implied by their own options given on the command line. */
export function selectedPlugins(
  options: Record<string, unknown>,
  args: readonly string[],
  cwd: string,
): PluginChoice[] {
  const choices: PluginChoice[] = [];
  for (const plugin of builtinPlugins) {
    const attributes = plugin.options.map((o) => pluginOptionAttribute(o.flags));
    const given = attributes.filter((a) => options[a] !== undefined);
    const named = options[plugin.name] === true;
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
    for (const attribute of given) raw[attribute] = options[attribute];
    if (plugin.name === 'webroot') {
      const groups = webrootGroups(args);
      if (Object.keys(groups).length > 0) raw.webrootMap = { ...parseJsonObject(options.webrootMap), ...groups };
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
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

async function buildIssueRequest(
  context: RunContext,
  options: Record<string, unknown>,
  args: readonly string[],
  cwd: string,
) {
  const identifiers = parseIdentifiers((options.domain as string[] | undefined) ?? []);
  if (identifiers.length === 0) throw new UsageError('no domains given: use -d NAME (repeatable)');
  const firstIdentifier = identifiers[0] as Identifier;
  // An IPv6 address is no file name (":"): its certificate is called ipv6-2001-db8--1.
  const first =
    firstIdentifier.type === 'ip' && firstIdentifier.value.includes(':')
      ? `ipv6-${firstIdentifier.value.replace(/:/g, '-')}`
      : firstIdentifier.value;
  const certName = validateCertName(typeof options.certName === 'string' ? options.certName : first);
  const required = requiredKeyType(context.server);
  let keyType: KeyType = required ?? 'ec256';
  if (typeof options.keyType === 'string') {
    // certbot's `--key-type rsa` carries no size; for a CA that accepts only one, use that one.
    keyType =
      options.keyType.trim().toLowerCase() === 'rsa' && required
        ? required
        : parseKeyType(options.keyType, '--key-type');
    if (required && keyType !== required)
      context.reporter.warn(
        `${context.server} accepts only ${required} keys; --key-type ${keyType} will probably be refused`,
      );
  }
  const reloadCommand = [options.reloadCmd, options.deployHook, options.reloadcmd].find(
    (v): v is string => typeof v === 'string',
  );
  const plugins = selectedPlugins(options, args, cwd);
  return {
    certName,
    identifiers,
    keyType,
    reuseKey: options.reuseKey === true,
    plugins,
    dns01: dns01SettingsFrom(options),
    connection: {
      server: context.server,
      ...(context.caBundle ? { caBundle: context.caBundle } : {}),
      ...(context.clientCert ? { clientCert: context.clientCert } : {}),
      ...(context.clientKey ? { clientKey: context.clientKey } : {}),
    },
    accountName: context.accountName,
    dryRun: options.dryRun === true,
    force: options.force === true || options.forceRenewal === true,
    extraFiles: extraFilesFrom(options),
    ...(reloadCommand ? { reloadCommand } : {}),
    ...preferences(options),
  };
}

/** Registers on the fly (certbot's habit) when no account exists yet or a binding is given. */
export async function registerIfNeeded(
  context: RunContext,
  options: Record<string, unknown>,
  command: Command,
  dryRun: boolean,
): Promise<void> {
  const server = dryRun ? dryRunServer(context.server) : context.server;
  const hasAccount = (await loadAccount(context.configDir, server, context.accountName)) !== undefined;
  const eab = await eabFromOptions(options, command, context.reporter);
  if (hasAccount && !eab) return;
  await registerAccount(
    { ...context, server },
    {
      emails: parseEmails((options.email as string[] | undefined) ?? []),
      agreeTos: options.agreeTos === true,
      ...(eab ? { eab } : {}),
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

export const issueAction: ActionImplementation = async (context, options, cmd, runtime) => {
  const args = runtime.argv.slice(runtime.argv.indexOf(cmd.name()) >= 0 ? runtime.argv.indexOf(cmd.name()) : 0);
  if (typeof options.csr === 'string') {
    const value = await issueForCsr(context, {
      csrPath: options.csr,
      identifiers: options.domain ? parseIdentifiers(options.domain as string[]) : undefined,
      plugins: selectedPlugins(options, args, runtime.cwd),
      dns01: dns01SettingsFrom(options),
      extraFiles: extraFilesFrom(options),
      dryRun: options.dryRun === true,
      ...preferences(options),
    });
    return { value, render: renderCsrResult } as ActionOutcome<unknown>;
  }
  const request = await buildIssueRequest(context, options, args, runtime.cwd);
  validateIssueRequest(context, request);
  await registerIfNeeded(context, options, cmd, request.dryRun);
  const value = await issueCertificate(context, request);
  return { value, render: renderIssueResult } as ActionOutcome<unknown>;
};
