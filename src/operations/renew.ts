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
import { listLineages, readLineage, type Lineage } from '../store/certificate-store.js';
import { certificatesDir } from '../store/layout.js';
import { openSession } from './ca-session.js';
import type { ConnectionSettings, RunContext } from './context.js';
import { issueCertificate, pluginSettingsOf, repairIfNeeded, replacesIdFor, type IssueResult } from './issue.js';
import { decideRenewal, type RenewalDecision } from './renewal-decision.js';
import type { RenewalInfo } from '../acme/types.js';

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

/** Reads the CA's renewal window, falling back to the lifetime rule on any failure. */
async function fetchAri(context: RunContext, lineage: Lineage, connection: ConnectionSettings): Promise<RenewalInfo | undefined> {
  const certId = replacesIdFor(lineage);
  if (!certId) return undefined;
  let session;
  try {
    session = await openSession(context, { connection, accountName: lineage.settings.account });
    const answer = await session.client.renewalInfo(certId, context.signal);
    return answer?.info;
  } catch (error) {
    if (error instanceof AcmecliError && error.exitCode === ExitCode.usage) throw error;
    context.reporter.warn(`${lineage.certName}: no renewal information from the CA (${messageOf(error)}); using the certificate's lifetime`);
    return undefined;
  } finally {
    await session?.close();
  }
}

function connectionOf(lineage: Lineage, context: RunContext): ConnectionSettings {
  const s = lineage.settings;
  return {
    server: s.server,
    ...(s.caBundle ? { caBundle: s.caBundle } : context.caBundle ? { caBundle: context.caBundle } : {}),
    ...(s.clientCert ? { clientCert: s.clientCert } : context.clientCert ? { clientCert: context.clientCert } : {}),
    ...(s.clientKey ? { clientKey: s.clientKey } : context.clientKey ? { clientKey: context.clientKey } : {}),
  };
}

function dns01Of(lineage: Lineage): Dns01Settings {
  const stored = lineage.settings.dns01 ?? {};
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
  const lock = await acquireLock(context.configDir, 'renew', {
    wait: true,
    timeoutMs: 60 * 60_000,
    signal,
    onWait: (holder) => reporter.info(`another renew is running (pid ${holder?.pid ?? '?'}); waiting for it to finish`),
  });
  try {
    await cleanStaleTempFiles(certificatesDir(context.configDir)).catch(() => []);
    let names: string[];
    if (input.certNames && input.certNames.length > 0) {
      names = input.certNames;
    } else {
      const listings = await listLineages(context.configDir);
      for (const bad of listings.filter((l) => l.error)) reporter.warn(`${bad.certName}: ${bad.error?.message}`);
      names = listings.map((l) => l.certName);
    }
    const items: RenewItem[] = [];
    for (const certName of names) {
      items.push(await renewOne(context, certName, input));
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
    lock.release();
  }
}

async function renewOne(context: RunContext, certName: string, input: RenewInput): Promise<RenewItem> {
  const { reporter } = context;
  try {
    if (!input.dryRun) await repairIfNeeded(context, certName);
    const lineage = await readLineage(context.configDir, certName);
    if (!lineage) throw new LocalError(`no certificate named "${certName}" in ${context.configDir}`);
    const info = parseCertificate(lineage.files.cert);
    const connection = connectionOf(lineage, context);
    const ari = input.force || input.days !== undefined ? undefined : await fetchAri(context, lineage, connection);
    const decision = decideRenewal({
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      now: context.now(),
      force: input.force || input.dryRun,
      ...(input.days !== undefined ? { days: input.days } : {}),
      ...(ari ? { ari } : {}),
    });
    if (!decision.due) {
      reporter.info(`${certName}: not due (${decision.reason}); next renewal after ${decision.renewAt.toISOString()}`);
      return { certName, outcome: 'not-due', decision, notAfter: info.notAfter.toISOString() };
    }
    reporter.info(`${certName}: renewing (${decision.reason})`);
    const s = lineage.settings;
    const replaces = ari ? replacesIdFor(lineage) : undefined;
    const preferredChallenges = parsePreferredChallenges(s.preferredChallenges);
    const result = await issueCertificate(context, {
      certName,
      identifiers: s.identifiers,
      keyType: parseKeyType(s.keyType, `keyType in ${lineage.paths.renewal}`),
      reuseKey: s.reuseKey,
      plugins: pluginSettingsOf(s, context.env),
      dns01: dns01Of(lineage),
      connection,
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
    if (context.signal.aborted) throw error;
    const exitCode = error instanceof AcmecliError ? error.exitCode : ExitCode.bug;
    const hint = error instanceof AcmecliError ? error.hint : undefined;
    reporter.error(`${certName}: renewal failed: ${messageOf(error)}${hint ? ` (hint: ${hint})` : ''}`);
    return { certName, outcome: 'failed', error: { message: messageOf(error), exitCode, ...(hint ? { hint } : {}) } };
  }
}
