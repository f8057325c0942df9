/**
 * `issue --csr FILE`: the key stays with whoever made the CSR, so acmecli keeps no lineage and
 * writes only the certificate files the user names (certbot's `--csr` behaviour).
 */
import { UsageError } from '../errors.js';
import { obtainCertificate } from '../acme/obtain.js';
import type { ChallengeType } from '../acme/solver.js';
import type { Identifier } from '../acme/types.js';
import { parseCsr } from '../crypto/csr.js';
import { atomicWrite } from '../store/atomic-write.js';
import { checkExtraFileTargets } from '../store/certificate-store.js';
import type { ExtraFiles } from '../store/settings.js';
import type { Dns01Settings } from '../challenges/dns01/settings.js';
import { openSession } from './ca-session.js';
import { MAX_KEY_FILE_BYTES, readUserFileBytes } from '../store/user-file.js';
import type { RunContext } from './context.js';
import { buildSolverChooser, parsePluginChoices, prepareDryRun, type PluginChoice } from './issue.js';

export interface CsrIssueRequest {
  csrPath: string;
  identifiers: Identifier[] | undefined;
  plugins: PluginChoice[];
  dns01: Dns01Settings;
  extraFiles: ExtraFiles;
  dryRun: boolean;
  preferredChallenges?: ChallengeType[];
  preferredChain?: string;
  profile?: string;
}

export interface CsrIssueResult {
  csrPath: string;
  identifiers: string[];
  notAfter: string;
  files: string[];
  dryRun: boolean;
}

export async function issueForCsr(context: RunContext, request: CsrIssueRequest): Promise<CsrIssueResult> {
  if (request.extraFiles.keyFile)
    throw new UsageError('--key-file makes no sense with --csr: acmecli never sees the key');
  const targets = {
    cert: request.extraFiles.certFile,
    chain: request.extraFiles.chainFile,
    fullchain: request.extraFiles.fullchainFile,
  };
  if (!request.dryRun && !targets.cert && !targets.fullchain) {
    throw new UsageError('--csr needs --cert-file or --fullchain-file to say where the certificate goes');
  }
  checkExtraFileTargets({ certFile: targets.cert, chainFile: targets.chain, fullchainFile: targets.fullchain });
  const csrFile = await readUserFileBytes(request.csrPath, '--csr', MAX_KEY_FILE_BYTES);
  const csr = await parseCsr(csrFile.bytes, request.csrPath);
  if (request.identifiers) {
    const key = (list: readonly Identifier[]) =>
      list
        .map((i) => `${i.type}:${i.value}`)
        .sort()
        .join(',');
    if (key(request.identifiers) !== key(csr.identifiers)) {
      throw new UsageError(
        `the -d names (${request.identifiers.map((i) => i.value).join(', ')}) differ from the CSR's (${csr.identifiers.map((i) => i.value).join(', ')})`,
      );
    }
  }
  const parsed = parsePluginChoices(request.plugins);
  const chooseSolver = buildSolverChooser(context, parsed, request.dns01, request.preferredChallenges);
  const connection = request.dryRun
    ? await prepareDryRun(context, { connection: context, accountName: context.accountName })
    : context;
  const session = await openSession(context, { connection });
  const step = context.reporter.step(`Ordering a certificate for the CSR ${request.csrPath}`);
  let result;
  try {
    result = await obtainCertificate(session.client, {
      identifiers: csr.identifiers,
      csrDer: csr.der,
      chooseSolver,
      log: context.reporter,
      signal: context.signal,
      ...(request.profile !== undefined ? { profile: request.profile } : {}),
      ...(request.preferredChain !== undefined ? { preferredChain: request.preferredChain } : {}),
    });
    step.succeed();
  } catch (error) {
    step.fail();
    throw error;
  } finally {
    await session.close();
  }
  const files: string[] = [];
  if (!request.dryRun) {
    const contents = { cert: result.certificatePem, chain: result.chainPem, fullchain: result.fullchainPem };
    for (const kind of ['cert', 'chain', 'fullchain'] as const) {
      const target = targets[kind];
      if (!target) continue;
      await atomicWrite(target, contents[kind], { mode: 0o644 });
      files.push(target);
    }
  }
  return {
    csrPath: request.csrPath,
    identifiers: result.identifiers.map((i) => i.value),
    notAfter: result.notAfter.toISOString(),
    files,
    dryRun: request.dryRun,
  };
}
