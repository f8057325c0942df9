/**
 * Issuing (and re-issuing, for renew) one certificate lineage: the solvers from the configured
 * plugins, the key, the order through the core, then the complete file set written atomically,
 * extra copies, and the reload command once.
 */
import type { KeyObject } from 'node:crypto';
import { AcmecliError, ReloadError, UsageError, messageOf } from '../errors.js';
import { obtainCertificate, planSolvers, type ObtainEvent } from '../acme/obtain.js';
import { ariCertificateId } from '../acme/ari.js';
import type { ChallengeType, SolverChooser } from '../acme/solver.js';
import type { Identifier } from '../acme/types.js';
import { certificateMatchesKey, parseCertificate } from '../crypto/certificate.js';
import { exportPrivateKeyPem, generateKey, loadPrivateKeyPem, type KeyType } from '../crypto/keys.js';
import type { Dns01Settings } from '../challenges/dns01/settings.js';
import type { AnyChallengePlugin, PluginContext } from '../challenges/plugin.js';
import { resolvePlugin } from '../challenges/registry.js';
import { createSolverChooser, type SelectedSolver } from '../challenges/select.js';
import { acquireLock, type Lock } from '../store/lock.js';
import { certDirName, lineagePaths, type LineagePaths } from '../store/layout.js';
import {
  checkExtraFileTargets,
  copyExtraFiles,
  lineageNeedsRepair,
  readLineage,
  repairLineage,
  writeLineage,
  writeRenewalSettings,
  type Lineage,
} from '../store/certificate-store.js';
import { RENEWAL_SETTINGS_VERSION, type ExtraFiles, type RenewalSettings } from '../store/settings.js';
import { openSession, type CaSession } from './ca-session.js';
import type { ConnectionSettings, RunContext } from './context.js';
import { decideRenewal, type RenewalDecision } from './renewal-decision.js';
import { dryRunServer } from './servers.js';
import { loadAccount } from '../store/account-store.js';
import { registerAccount } from './register.js';

export interface PluginChoice {
  name: string;
  /** Raw options: commander's camelCase values, or what the plugin stored in renewal.json. */
  raw: Record<string, unknown>;
}

export interface IssueRequest {
  certName: string;
  identifiers: Identifier[];
  keyType: KeyType;
  reuseKey: boolean;
  plugins: PluginChoice[];
  preferredChallenges?: ChallengeType[];
  preferredChain?: string;
  profile?: string;
  reloadCommand?: string;
  extraFiles?: ExtraFiles;
  dns01: Dns01Settings;
  connection: ConnectionSettings;
  accountName: string;
  /** Run the whole protocol against the (staging) server, write nothing live. */
  dryRun: boolean;
  /** Issue even when an identical certificate is not yet due. */
  force: boolean;
  /** ARI id of the certificate being replaced (renew). */
  replaces?: string;
  /** Wait for a certificate lock held by another run instead of failing. */
  waitForLock?: boolean;
}

export interface IssueResult {
  certName: string;
  status: 'issued' | 'not-due' | 'dry-run';
  identifiers: string[];
  notBefore?: string;
  notAfter?: string;
  paths: LineagePaths;
  extraFiles: string[];
  version?: number;
  reloaded: boolean;
  decision?: RenewalDecision;
  chainIssuer?: string;
  authorizationsReused?: number;
}

const RELOAD_TIMEOUT_MS = 5 * 60_000;

function sameIdentifiers(a: readonly Identifier[], b: readonly Identifier[]): boolean {
  const key = (list: readonly Identifier[]) =>
    list
      .map((i) => `${i.type}:${i.value}`)
      .sort()
      .join(' ');
  return key(a) === key(b);
}

export function lockNameForCertificate(certName: string): string {
  return `cert-${certDirName(certName)}`;
}

export async function lockCertificate(context: RunContext, certName: string, wait: boolean): Promise<Lock> {
  return acquireLock(context.configDir, lockNameForCertificate(certName), {
    wait,
    timeoutMs: 15 * 60_000,
    signal: context.signal,
    onWait: (holder) =>
      context.reporter.info(`waiting for another acmecli run (pid ${holder?.pid ?? '?'}) working on ${certName}`),
  });
}

/**
 * Brings a lineage back to a complete set after a crash of an earlier run. The crashed run never
 * got to its reload command, so the web server may still serve the old files: reload now.
 */
export async function repairIfNeeded(context: RunContext, certName: string): Promise<boolean> {
  if (!lineageNeedsRepair(context.configDir, certName)) return false;
  const repair = await repairLineage(context.configDir, certName, {
    matches: (certPem, keyPem) => certificateMatchesKey(certPem, loadPrivateKeyPem(keyPem, 'privkey.pem')),
  });
  if (repair.action !== 'restored' && repair.action !== 'completed') return false;
  context.reporter.warn(
    `${certName}: an interrupted run left the files half-written; restored version ${repair.version ?? '?'}`,
  );
  const lineage = await readLineage(context.configDir, certName);
  if (lineage?.settings.reloadCommand) {
    await runReloadCommand(
      context,
      { certName, reloadCommand: lineage.settings.reloadCommand, identifiers: lineage.settings.identifiers },
      lineage.paths,
    );
  }
  return true;
}

/**
 * The plugins a lineage was issued with, from its renewal.json, with option values that were
 * deliberately not stored (inline secrets) taken from the environment as on the command line.
 */
export function pluginSettingsOf(
  settings: RenewalSettings,
  env: Readonly<Record<string, string | undefined>>,
): PluginChoice[] {
  const names = settings.plugin
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return names.map((name) => {
    const stored = settings.pluginSettings[name];
    const raw: Record<string, unknown> =
      stored && typeof stored === 'object' ? { ...(stored as Record<string, unknown>) } : {};
    for (const option of resolvePlugin(name).options) {
      if (!option.env) continue;
      const value = env[option.env];
      const attribute = optionAttributeName(option.flags);
      if (value !== undefined && value !== '' && raw[attribute] === undefined) raw[attribute] = value;
    }
    return { name, raw };
  });
}

/** commander's attribute name of a flag spec: `--nsupdate-key <k>` → `nsupdateKey`. */
export function optionAttributeName(flags: string): string {
  const long = flags.split(/[ ,|]+/).find((part) => part.startsWith('--')) ?? '';
  return long.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

export interface ParsedPlugin {
  plugin: AnyChallengePlugin;
  options: unknown;
}

export function parsePluginChoices(choices: readonly PluginChoice[]): ParsedPlugin[] {
  if (choices.length === 0) {
    throw new UsageError(
      'choose how to prove control of the names: --webroot -w DIR, --standalone, --manual or --nsupdate',
    );
  }
  return choices.map((choice) => {
    const plugin = resolvePlugin(choice.name);
    return { plugin, options: plugin.parseOptions(choice.raw) as unknown };
  });
}

/** Solvers from the parsed plugins, and the chooser that assigns them to identifiers. */
export function buildSolverChooser(
  context: RunContext,
  parsed: readonly ParsedPlugin[],
  dns01: Dns01Settings,
  preferredChallenges: readonly ChallengeType[] | undefined,
): SolverChooser {
  const pluginContext: PluginContext = {
    log: context.reporter,
    runCommand: context.runCommand,
    dns01,
    ...(context.prompt ? { prompt: context.prompt } : {}),
  };
  const selected: SelectedSolver[] = parsed.map(({ plugin, options }) => {
    const solver = plugin.createSolver(options, pluginContext);
    const canSolve = plugin.canSolve?.bind(plugin);
    return {
      solver,
      types: plugin.challengeTypes,
      ...(canSolve ? { handles: (value: string, wildcard: boolean) => canSolve(options, value, wildcard) } : {}),
    };
  });
  return createSolverChooser(selected, preferredChallenges);
}

/**
 * Everything about a request that can be checked without the network or the disk: the plugins'
 * options and a solver for every name. The CLI runs it before registering an account on the fly.
 */
export function validateIssueRequest(
  context: RunContext,
  request: Pick<IssueRequest, 'identifiers' | 'plugins' | 'dns01' | 'preferredChallenges'>,
): void {
  if (request.identifiers.length === 0) throw new UsageError('no domains given: use -d NAME (repeatable)');
  const parsed = parsePluginChoices(request.plugins);
  planSolvers(request.identifiers, buildSolverChooser(context, parsed, request.dns01, request.preferredChallenges));
}

export async function issueCertificate(context: RunContext, request: IssueRequest): Promise<IssueResult> {
  const { reporter, signal } = context;
  const paths = lineagePaths(context.configDir, request.certName);
  if (request.identifiers.length === 0) throw new UsageError('no domains given: use -d NAME (repeatable)');
  // Parse every plugin's options before anything else happens (bad flags fail fast).
  const parsed = parsePluginChoices(request.plugins);

  const lock = request.dryRun
    ? undefined
    : await lockCertificate(context, request.certName, request.waitForLock ?? false);
  try {
    let lineage: Lineage | undefined;
    if (!request.dryRun) {
      await repairIfNeeded(context, request.certName);
      lineage = await readLineage(context.configDir, request.certName);
    }
    const settings: RenewalSettings = {
      version: RENEWAL_SETTINGS_VERSION,
      server: request.connection.server,
      account: request.accountName,
      identifiers: request.identifiers,
      keyType: request.keyType,
      reuseKey: request.reuseKey,
      plugin: parsed.map((p) => p.plugin.name).join(','),
      pluginSettings: Object.fromEntries(parsed.map((p) => [p.plugin.name, p.plugin.toSettings(p.options)])),
      ...(request.preferredChallenges ? { preferredChallenges: request.preferredChallenges } : {}),
      ...(request.preferredChain !== undefined ? { preferredChain: request.preferredChain } : {}),
      ...(request.profile !== undefined ? { profile: request.profile } : {}),
      ...(request.reloadCommand !== undefined ? { reloadCommand: request.reloadCommand } : {}),
      ...(request.extraFiles && Object.keys(request.extraFiles).length > 0 ? { extraFiles: request.extraFiles } : {}),
      ...(request.connection.caBundle !== undefined ? { caBundle: request.connection.caBundle } : {}),
      ...(request.connection.clientCert !== undefined ? { clientCert: request.connection.clientCert } : {}),
      ...(request.connection.clientKey !== undefined ? { clientKey: request.connection.clientKey } : {}),
      dns01: { ...request.dns01 },
    };

    if (
      lineage &&
      !request.force &&
      !request.dryRun &&
      sameIdentifiers(lineage.settings.identifiers, request.identifiers)
    ) {
      const info = parseCertificate(lineage.files.cert);
      const decision = decideRenewal({ notBefore: info.notBefore, notAfter: info.notAfter, now: context.now() });
      if (!decision.due) {
        await writeRenewalSettings(context.configDir, request.certName, settings);
        return {
          certName: request.certName,
          status: 'not-due',
          identifiers: request.identifiers.map((i) => i.value),
          notBefore: info.notBefore.toISOString(),
          notAfter: info.notAfter.toISOString(),
          paths,
          extraFiles: [],
          reloaded: false,
          decision,
        };
      }
    }

    // Fail on a name no plugin can validate before a key is generated or an order placed.
    const chooseSolver = buildSolverChooser(context, parsed, request.dns01, request.preferredChallenges);
    planSolvers(request.identifiers, chooseSolver);
    if (request.extraFiles) checkExtraFileTargets(request.extraFiles);

    let certificateKey: KeyObject;
    if (request.reuseKey && lineage) {
      certificateKey = loadPrivateKeyPem(lineage.files.privkey, paths.privkey);
    } else {
      const keyStep = reporter.step(`Generating a ${request.keyType} certificate key`);
      certificateKey = await generateKey(request.keyType);
      keyStep.succeed();
    }

    const connection = request.dryRun ? await prepareDryRun(context, request) : request.connection;
    const session: CaSession = await openSession(context, { connection, accountName: request.accountName });
    let result;
    const orderStep = reporter.step(`Ordering a certificate for ${request.identifiers.map((i) => i.value).join(', ')}`);
    try {
      const progress = progressReporter(
        request.identifiers.length,
        (text) => orderStep.update(text),
        reporter.debug.bind(reporter),
      );
      result = await obtainCertificate(session.client, {
        identifiers: request.identifiers,
        certificateKey,
        chooseSolver,
        log: reporter,
        signal,
        onEvent: progress,
        ...(request.profile !== undefined ? { profile: request.profile } : {}),
        ...(request.preferredChain !== undefined ? { preferredChain: request.preferredChain } : {}),
        ...(request.replaces !== undefined ? { replaces: request.replaces } : {}),
      });
      // Named from the certificate itself (the core checked it holds exactly the ordered names).
      orderStep.succeed(
        `Certificate issued for ${result.identifiers.map((i) => i.value).join(', ')} (valid until ${result.notAfter.toISOString()})`,
      );
    } catch (error) {
      orderStep.fail(`Could not obtain a certificate for ${request.identifiers.map((i) => i.value).join(', ')}`);
      throw error;
    } finally {
      await session.close();
    }

    const common = {
      certName: request.certName,
      identifiers: result.identifiers.map((i) => i.value),
      notBefore: result.notBefore.toISOString(),
      notAfter: result.notAfter.toISOString(),
      paths,
      authorizationsReused: result.reusedAuthorizations,
      ...(result.chainIssuer !== undefined ? { chainIssuer: result.chainIssuer } : {}),
    };
    if (request.dryRun) {
      return { ...common, status: 'dry-run', extraFiles: [], reloaded: false };
    }

    const files = {
      cert: result.certificatePem,
      chain: result.chainPem,
      fullchain: result.fullchainPem,
      privkey: exportPrivateKeyPem(certificateKey),
    };
    const written = await writeLineage(context.configDir, request.certName, files, settings);
    const extraFiles = request.extraFiles ? await copyExtraFiles(request.extraFiles, files) : [];
    const reloaded = await runReloadCommand(context, request, paths);
    return { ...common, status: 'issued', extraFiles, version: written.version, reloaded };
  } finally {
    lock?.release();
  }
}

/**
 * A dry run talks to the staging twin of a known production CA (or the given server), with an
 * account registered there on the fly from the production account's contact and ToS agreement.
 */
export async function prepareDryRun(
  context: RunContext,
  request: Pick<IssueRequest, 'connection' | 'accountName'>,
): Promise<ConnectionSettings> {
  const server = dryRunServer(request.connection.server);
  const connection = { ...request.connection, server };
  if (server === request.connection.server) return connection;
  context.reporter.info(`dry run: using ${server} instead of ${request.connection.server}`);
  if (await loadAccount(context.configDir, server, request.accountName)) return connection;
  const production = await loadAccount(context.configDir, request.connection.server, request.accountName);
  await registerAccount(
    { ...context, ...connection, accountName: request.accountName },
    {
      emails: (production?.record.contact ?? []).map((c) => c.replace(/^mailto:/, '')),
      agreeTos: production?.record.termsOfServiceAgreed ?? false,
      accountKeyType: 'ec256',
      force: false,
    },
  );
  return connection;
}

/** Turns core events into spinner text (TTY) and debug lines. */
function progressReporter(
  total: number,
  updateStep: (text: string) => void,
  debug: (text: string) => void,
): (event: ObtainEvent) => void {
  let valid = 0;
  let last = '';
  const update = (text: string) => {
    if (text !== last) updateStep(text);
    last = text;
  };
  return (event) => {
    switch (event.type) {
      case 'order-created':
        debug(`order ${event.url}`);
        break;
      case 'authorization-reused':
        valid++;
        debug(`${event.identifier}: already authorized`);
        break;
      case 'presenting':
        debug(`${event.identifier}: presenting ${event.challengeType}`);
        update(`Presenting challenges (${event.challengeType})`);
        break;
      case 'validating':
        update(`Validating ${total} name${total === 1 ? '' : 's'}`);
        break;
      case 'authorization-valid':
        valid++;
        update(`Validated ${valid}/${total}`);
        debug(`${event.identifier}: valid`);
        break;
      case 'authorization-invalid':
        debug(`${event.identifier}: invalid (${event.reason})`);
        break;
      case 'finalizing':
        update('Finalizing the order');
        break;
      case 'downloading':
        update('Downloading the certificate');
        break;
      default:
        break;
    }
  };
}

/** The reload command runs once, after all files are in place; its failure keeps the new files. */
export async function runReloadCommand(
  context: RunContext,
  request: Pick<IssueRequest, 'reloadCommand' | 'certName' | 'identifiers'>,
  paths: LineagePaths,
): Promise<boolean> {
  if (!request.reloadCommand) return false;
  const step = context.reporter.step(`Running the reload command: ${request.reloadCommand}`);
  const domains = request.identifiers.map((i) => i.value).join(' ');
  let outcome;
  try {
    outcome = await context.runCommand({
      command: request.reloadCommand,
      timeoutMs: RELOAD_TIMEOUT_MS,
      signal: context.signal,
      env: {
        RENEWED_LINEAGE: paths.dir,
        RENEWED_DOMAINS: domains,
        ACMECLI_CERT_NAME: request.certName,
        ACMECLI_CERT_DIR: paths.dir,
        ACMECLI_CERT_FILE: paths.cert,
        ACMECLI_KEY_FILE: paths.privkey,
        ACMECLI_CHAIN_FILE: paths.chain,
        ACMECLI_FULLCHAIN_FILE: paths.fullchain,
        ACMECLI_DOMAINS: domains,
      },
    });
  } catch (error) {
    step.fail();
    if (error instanceof AcmecliError && !(error instanceof ReloadError)) throw error;
    throw new ReloadError(`the reload command failed: ${messageOf(error)}; the new certificate is in place`, {
      cause: error,
    });
  }
  if (outcome.exitCode !== 0) {
    step.fail();
    const stderr = outcome.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new ReloadError(
      `the reload command exited ${outcome.exitCode}${stderr ? `: ${stderr}` : ''}; the new certificate is in place`,
    );
  }
  step.succeed('Reload command succeeded');
  return true;
}

/** The ARI id of a lineage's current certificate, for `replaces`. */
export function replacesIdFor(lineage: Lineage): string | undefined {
  try {
    return ariCertificateId(lineage.files.cert);
  } catch {
    return undefined;
  }
}
