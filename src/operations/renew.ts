/**
 * `renew`: every lineage (or the named ones) that is due is issued again with the settings it
 * was issued with. One failure does not stop the others; a global lock makes a concurrent renew
 * wait, so the second one finds nothing due.
 */
import { AcmecliError, ExitCode, LocalError, UsageError, messageOf } from '../errors.js';
import { parseCertificate } from '../crypto/certificate.js';
import { parseKeyType } from '../crypto/keys.js';
import { DEFAULT_DNS01_SETTINGS, type Dns01Settings } from '../challenges/dns01/settings.js';
import { parsePreferredChallenges } from '../challenges/select.js';
import { acquireLock } from '../store/lock.js';
import { cleanStaleTempFiles } from '../store/atomic-write.js';
import {
  lineageNeedsRepair,
  listCertificateNames,
  readLineage,
  readLineageSummary,
  sha256,
  type Lineage,
  type LineageSummary,
} from '../store/certificate-store.js';
import { certificatesDir, lineagePaths, lineagePathsIn } from '../store/layout.js';
import { assertTrustedDirectory } from '../store/trust.js';
import { openSession, type CaSession } from './ca-session.js';
import { mapLimit } from '../acme/delay.js';
import { ariCertificateIdOf, chooseRenewalTime } from '../acme/ari.js';
import { generateKey } from '../crypto/keys.js';
import { readAriCache, writeAriCache, type AriCacheEntry } from '../store/ari-cache.js';
import type { ConnectionSettings, RunContext } from './context.js';
import {
  issueCertificate,
  lockCertificate,
  parsePluginChoices,
  pluginSettingsOf,
  repairIfNeeded,
  replacesIdFor,
  type IssueResult,
  type PluginChoice,
} from './issue.js';
import { decideRenewal, type RenewalDecision } from './renewal-decision.js';
import type { RenewalInfo } from '../acme/types.js';
import type { RenewalSettings } from '../store/settings.js';
import type { KeyType } from '../crypto/keys.js';
import type { ChallengeType } from '../acme/solver.js';

export interface RenewInput {
  certNames?: string[];
  days?: number;
  force: boolean;
  dryRun: boolean;
  /** Maximum seconds of random delay before starting (cron jitter); 0 for none. */
  randomSleepSeconds: number;
}

export interface RenewItem {
  certName: string;
  outcome: 'renewed' | 'not-due' | 'dry-run' | 'failed';
  decision?: RenewalDecision;
  notAfter?: string;
  error?: { message: string; exitCode: number; hint?: string };
  result?: IssueResult;
}

export interface RenewResult {
  items: RenewItem[];
  renewed: number;
  failed: number;
  exitCode: number;
}

/** How long a renewal window is trusted when the CA gives no Retry-After (RFC 9773 §4.3 suggests 6 h). */
const DEFAULT_ARI_RECHECK_MS = 6 * 3600_000;
const MIN_ARI_RECHECK_MS = 60_000;
const MAX_ARI_RECHECK_MS = 24 * 3600_000;
const ARI_CONCURRENCY = 8;

/** One client per CA connection for the renewal-window checks of a run. */
class AriSessions {
  private readonly sessions = new Map<string, Promise<CaSession>>();

  constructor(private readonly context: RunContext) {}

  get(connection: ConnectionSettings, accountName: string): Promise<CaSession> {
    const key = JSON.stringify([
      connection.server,
      connection.caBundle,
      connection.clientCert,
      connection.clientKey,
      accountName,
    ]);
    let session = this.sessions.get(key);
    if (!session) {
      // renewalInfo is an unauthenticated GET: any key will do when the account is gone.
      session = generateKey('ec256').then((fallbackKey) =>
        openSession(this.context, { connection, accountName, fallbackKey }),
      );
      session.catch(() => this.sessions.delete(key));
      this.sessions.set(key, session);
    }
    return session;
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled([...this.sessions.values()]);
    await Promise.all(all.map(async (s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
  }
}

/** What the renewal decision needs of a certificate. */
interface CertificateFacts {
  /** SHA-256 of the PEM: the key of these facts in ari.json. */
  sha256: string;
  notBefore: Date;
  notAfter: Date;
  /** RFC 9773 identifier; undefined without an Authority Key Identifier (no ARI then). */
  ariCertificateId: string | undefined;
}

/** From ari.json when it was written for this very certificate, else by parsing it. */
async function certificateFactsOf(
  lineage: LineageSummary,
  cached: AriCacheEntry | undefined,
): Promise<CertificateFacts> {
  const known = cached?.certificate;
  if (cached && known && known.sha256 === lineage.certificateSha256) {
    return {
      sha256: known.sha256,
      notBefore: new Date(known.notBefore),
      notAfter: new Date(known.notAfter),
      ariCertificateId: cached.certificateId,
    };
  }
  const pem = await lineage.readCertificate();
  const info = parseCertificate(pem);
  return {
    sha256: sha256(pem),
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    ariCertificateId: ariCertificateIdOf(info),
  };
}

/**
 * The CA's renewal window for a lineage: from ari.json while the CA's Retry-After has not passed,
 * else asked again (and cached). Undefined when the CA offers none or cannot be asked.
 */
async function renewalWindow(
  context: RunContext,
  lineage: LineageSummary,
  certificate: CertificateFacts,
  cached: AriCacheEntry | undefined,
  sessions: AriSessions,
): Promise<{ info: RenewalInfo; renewAt: Date } | undefined> {
  const certificateId = certificate.ariCertificateId;
  if (!certificateId) return undefined;
  const server = lineage.settings.server;
  const now = context.now();
  if (
    cached &&
    cached.certificateId === certificateId &&
    cached.server === server &&
    Date.parse(cached.nextCheckAt) > now.getTime()
  ) {
    if (!cached.window) return undefined;
    const info: RenewalInfo = {
      suggestedWindow: cached.window,
      ...(cached.explanationURL ? { explanationURL: cached.explanationURL } : {}),
    };
    return { info, renewAt: cached.renewAt ? new Date(cached.renewAt) : chooseRenewalTime(info) };
  }
  try {
    const session = await sessions.get(connectionOf(lineage.settings, context), lineage.settings.account);
    const answer = await session.client.renewalInfo(certificateId, context.signal);
    const recheckMs = Math.min(
      MAX_ARI_RECHECK_MS,
      Math.max(
        MIN_ARI_RECHECK_MS,
        answer?.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : DEFAULT_ARI_RECHECK_MS,
      ),
    );
    const renewAt = answer ? chooseRenewalTime(answer.info) : undefined;
    await writeAriCache(lineage.paths.dir, {
      certificateId,
      server,
      fetchedAt: now.toISOString(),
      nextCheckAt: new Date(now.getTime() + recheckMs).toISOString(),
      ...(answer ? { window: answer.info.suggestedWindow, renewAt: (renewAt as Date).toISOString() } : {}),
      ...(answer?.info.explanationURL ? { explanationURL: answer.info.explanationURL } : {}),
      certificate: {
        sha256: certificate.sha256,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
      },
    }).catch((error: unknown) =>
      context.reporter.debug(`${lineage.certName}: could not cache the renewal window: ${messageOf(error)}`),
    );
    return answer ? { info: answer.info, renewAt: renewAt as Date } : undefined;
  } catch (error) {
    if (error instanceof AcmecliError && error.exitCode === ExitCode.usage) throw error;
    context.reporter.warn(
      `${lineage.certName}: no renewal information from the CA (${messageOf(error)}); using the certificate's lifetime`,
    );
    return undefined;
  }
}

function connectionOf(s: RenewalSettings, context: RunContext): ConnectionSettings {
  return {
    server: s.server,
    ...(s.caBundle ? { caBundle: s.caBundle } : context.caBundle ? { caBundle: context.caBundle } : {}),
    ...(s.clientCert ? { clientCert: s.clientCert } : context.clientCert ? { clientCert: context.clientCert } : {}),
    ...(s.clientKey ? { clientKey: s.clientKey } : context.clientKey ? { clientKey: context.clientKey } : {}),
  };
}

function dns01Of(settings: RenewalSettings): Dns01Settings {
  const stored = settings.dns01 ?? {};
  return { ...DEFAULT_DNS01_SETTINGS, ...(stored as Partial<Dns01Settings>) };
}

export async function renewCertificates(context: RunContext, input: RenewInput): Promise<RenewResult> {
  const { reporter, signal } = context;
  if (input.days !== undefined && !(input.days >= 0)) throw new UsageError('--days must be a number of days ≥ 0');
  if (input.randomSleepSeconds > 0) {
    const ms = Math.floor(Math.random() * input.randomSleepSeconds * 1000);
    reporter.info(`sleeping ${Math.round(ms / 1000)} s before renewing (--random-sleep)`);
    const { delay } = await import('../acme/delay.js');
    await delay(ms, signal);
  }
  // Before anything is read: the certificates directory, and the config dir's ancestors, must be
  // ones no other user can change (store/trust.ts). acquireLock checks the locks directory itself.
  assertTrustedDirectory(certificatesDir(context.configDir));
  const lock = await acquireLock(context.configDir, 'renew', {
    wait: true,
    timeoutMs: 60 * 60_000,
    signal,
    onWait: (holder) => reporter.info(`another renew is running (pid ${holder?.pid ?? '?'}); waiting for it to finish`),
  });
  const sessions = new AriSessions(context);
  try {
    await cleanStaleTempFiles(certificatesDir(context.configDir)).catch(() => []);
    const planned = await planRenewals(context, input, sessions);
    const names = planned.map((p) => p.certName);
    const items: RenewItem[] = [];
    for (const plan of planned) {
      items.push('due' in plan ? await renewOne(context, plan.certName, plan.due, input) : plan.item);
    }
    const failed = items.filter((i) => i.outcome === 'failed').length;
    const renewed = items.filter((i) => i.outcome === 'renewed' || i.outcome === 'dry-run').length;
    let exitCode: number = ExitCode.ok;
    if (failed > 0) {
      const codes = new Set(items.filter((i) => i.error).map((i) => i.error?.exitCode));
      // One certificate, one failure: keep its specific code; several: "some failed".
      exitCode = names.length === 1 && codes.size === 1 ? ([...codes][0] as number) : ExitCode.renewPartial;
    }
    return { items, renewed, failed, exitCode };
  } finally {
    await sessions.close();
    lock.release();
  }
}

/** A lineage to renew, or the outcome of one that is not (not due, or unreadable). */
type RenewalPlan = { certName: string; due: DueRenewal } | { certName: string; item: RenewItem };

interface DueRenewal {
  decision: RenewalDecision;
  /** The CA's window, when the decision came from it (the renewal then names what it replaces). */
  ari?: { info: RenewalInfo; renewAt: Date };
}

function failedItem(context: RunContext, certName: string, error: unknown): RenewItem {
  if (context.signal.aborted) throw error;
  const exitCode = error instanceof AcmecliError ? error.exitCode : ExitCode.bug;
  const hint = context.hintFor(error);
  context.reporter.error(`${certName}: renewal failed: ${messageOf(error)}${hint ? ` (hint: ${hint})` : ''}`);
  return { certName, outcome: 'failed', error: { message: messageOf(error), exitCode, ...(hint ? { hint } : {}) } };
}

/**
 * Decides which lineages are due, reading of each only what the decision needs (renewOne reads
 * and verifies the whole lineage of those that are); renewal windows are checked concurrently.
 */
async function planRenewals(context: RunContext, input: RenewInput, sessions: AriSessions): Promise<RenewalPlan[]> {
  const { reporter } = context;
  const lineages: Array<{ certName: string; dir?: string }> =
    input.certNames && input.certNames.length > 0
      ? input.certNames.map((certName) => ({ certName }))
      : await listCertificateNames(context.configDir);
  const useAri = !input.force && !input.dryRun && input.days === undefined;
  return mapLimit(lineages, ARI_CONCURRENCY, async ({ certName, dir }): Promise<RenewalPlan> => {
    try {
      // Inside the try: a --cert-name that is no valid name fails like any other lineage.
      const paths = dir === undefined ? lineagePaths(context.configDir, certName) : lineagePathsIn(dir);
      if (!input.dryRun && lineageNeedsRepair(context.configDir, certName, paths)) {
        // The marker may be another run's swap in progress (`issue` holds only the certificate
        // lock, not renew's): repair under that lock, which waits for such a run to finish.
        const lock = await lockCertificate(context, certName, true);
        try {
          await repairIfNeeded(context, certName);
        } finally {
          lock.release();
        }
      }
      const lineage = await readLineageSummary(context.configDir, certName, paths);
      if (!lineage) throw new LocalError(`no certificate named "${certName}" in ${context.configDir}`);
      const cached = await readAriCache(paths.dir, (error) => reporter.warn(`${error.message}; asking the CA again`));
      const certificate = await certificateFactsOf(lineage, cached);
      const ari = useAri ? await renewalWindow(context, lineage, certificate, cached, sessions) : undefined;
      const decision = decideRenewal({
        notBefore: certificate.notBefore,
        notAfter: certificate.notAfter,
        now: context.now(),
        force: input.force || input.dryRun,
        ...(input.days !== undefined ? { days: input.days } : {}),
        ...(ari ? { ari: ari.info, ariRenewAt: ari.renewAt } : {}),
      });
      if (decision.due) return { certName, due: { decision, ...(ari ? { ari } : {}) } };
      reporter.info(`${certName}: not due (${decision.reason}); next renewal after ${decision.renewAt.toISOString()}`);
      return {
        certName,
        item: { certName, outcome: 'not-due', decision, notAfter: certificate.notAfter.toISOString() },
      };
    } catch (error) {
      return { certName, item: failedItem(context, certName, error) };
    }
  });
}

async function renewOne(context: RunContext, certName: string, due: DueRenewal, input: RenewInput): Promise<RenewItem> {
  const { reporter } = context;
  const { decision } = due;
  try {
    // The decision read no more than the certificate: the whole lineage is checked against its
    // manifest before anything is renewed (or its reload command run) from it.
    const lineage = await readLineage(context.configDir, certName);
    if (!lineage) throw new LocalError(`no certificate named "${certName}" in ${context.configDir}`);
    reporter.info(`${certName}: renewing (${decision.reason})`);
    const s = lineage.settings;
    const replaces = due.ari ? replacesIdFor(lineage) : undefined;
    const { keyType, plugins, preferredChallenges } = storedChoices(lineage, context.env);
    const result = await issueCertificate(context, {
      certName,
      identifiers: s.identifiers,
      keyType,
      reuseKey: s.reuseKey,
      plugins,
      dns01: dns01Of(s),
      connection: connectionOf(s, context),
      accountName: s.account,
      dryRun: input.dryRun,
      force: true,
      waitForLock: true,
      ...(preferredChallenges ? { preferredChallenges } : {}),
      ...(s.preferredChain !== undefined ? { preferredChain: s.preferredChain } : {}),
      ...(s.profile !== undefined ? { profile: s.profile } : {}),
      ...(s.reloadCommand !== undefined ? { reloadCommand: s.reloadCommand } : {}),
      ...(s.extraFiles !== undefined ? { extraFiles: s.extraFiles } : {}),
      ...(replaces !== undefined ? { replaces } : {}),
    });
    return {
      certName,
      outcome: result.status === 'dry-run' ? 'dry-run' : 'renewed',
      decision,
      result,
      ...(result.notAfter ? { notAfter: result.notAfter } : {}),
    };
  } catch (error) {
    return failedItem(context, certName, error);
  }
}

/**
 * The renewal.json fields the store reads as plain strings and objects (key type, plugins and
 * their options, challenge types), checked with the command line's own parsers before anything
 * is renewed. A bad value is a bad file: LocalError naming the file and the field, not a flag.
 */
function storedChoices(
  lineage: Lineage,
  env: Readonly<Record<string, string | undefined>>,
): { keyType: KeyType; plugins: PluginChoice[]; preferredChallenges: ChallengeType[] | undefined } {
  const s = lineage.settings;
  const field = <T>(name: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      throw new LocalError(`${lineage.paths.renewal}: field "${name}": ${error.message}`, { cause: error });
    }
  };
  const keyType = field('keyType', () => parseKeyType(s.keyType, 'keyType'));
  const plugins = field('plugin', () => pluginSettingsOf(s, env));
  for (const choice of plugins) field(`pluginSettings.${choice.name}`, () => parsePluginChoices([choice]));
  const preferredChallenges = field('preferredChallenges', () => parsePreferredChallenges(s.preferredChallenges));
  return { keyType, plugins, preferredChallenges };
}
