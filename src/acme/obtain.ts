/**
 * The whole issuance flow (porcelain over AcmeClient): choose solvers for every identifier before
 * anything is ordered, order, solve all pending authorizations concurrently (bounded), finalize,
 * download, pick the preferred chain, and check the result. Clean-up and dispose always run.
 *
 * The CA is trusted for what it signs, not for what it names: the order, every authorization and
 * the certificate are held against the ordered identifiers (identifiers.ts), and solvers only
 * ever see acmecli's own spelling of a name.
 */
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { AbortedError, NetworkError, PluginError, UsageError, messageOf } from '../errors.js';
import type { Logger } from '../output/logger.js';
import { silentLogger } from '../output/logger.js';
import { createCsr, parseCsr } from '../crypto/csr.js';
import { parseCertificate, splitPemChain, verifyChain } from '../crypto/certificate.js';
import { dns01TxtValue, isBase64Url, jwkThumbprint, keyAuthorization } from '../crypto/jwk.js';
import { publicKeysEqual } from '../crypto/keys.js';
import { createTlsAlpnCertificate, ipToReverseDnsName } from '../crypto/tls-alpn.js';
import { AcmeFeatureError, assertCaUrl, type AcmeClient } from './client.js';
import { mapLimit, settleLimit } from './delay.js';
import { pollUntil, type PollPolicy } from './poll.js';
import { OrderedIdentifiers, OrderMismatchError, oneLine, type OrderedIdentifier } from './identifiers.js';
import { AlreadyReplacedError, describeProblem } from './problem.js';
import { CHALLENGE_TYPES, type ChallengeTask, type ChallengeType, type Solver, type SolverChooser } from './solver.js';
import type { Authorization, Challenge, Identifier, Order } from './types.js';
import { ValidationError, type ValidationFailure } from './validation-error.js';
import { CertificateKeyMismatchError, InvalidOrderError } from './verdicts.js';

export type ObtainEvent =
  | { type: 'ordering'; identifiers: readonly Identifier[] }
  | { type: 'order-created'; url: string }
  | { type: 'authorization-reused'; identifier: string }
  | { type: 'presenting'; identifier: string; challengeType: ChallengeType }
  | { type: 'validating'; identifier: string; challengeType: ChallengeType }
  | { type: 'authorization-valid'; identifier: string }
  | { type: 'authorization-invalid'; identifier: string; reason: string }
  | { type: 'finalizing' }
  | { type: 'downloading' };

export interface ObtainOptions {
  /** dns (wildcards spelled `*.example.com`) and ip identifiers. */
  identifiers: readonly Identifier[];
  /** The certificate key; a CSR is built from it. Exactly one of certificateKey / csrDer. */
  certificateKey?: KeyObject;
  /** A ready CSR: its identifiers must equal `identifiers`. */
  csrDer?: Uint8Array;
  chooseSolver: SolverChooser;
  notBefore?: Date;
  notAfter?: Date;
  profile?: string;
  /** ARI id of the certificate being replaced; dropped and retried once if the CA says alreadyReplaced. */
  replaces?: string;
  /** Issuer common name of the chain to prefer among the CA's alternates. */
  preferredChain?: string;
  /** Authorize each identifier with newAuthz before ordering, when the CA offers it. */
  preAuthorize?: boolean;
  /** Authorizations handled at once (fetch, present, answer, poll). */
  concurrency?: number;
  poll?: Partial<PollPolicy>;
  log?: Logger;
  onEvent?: (event: ObtainEvent) => void;
  signal?: AbortSignal;
}

export interface ObtainResult {
  orderUrl: string;
  certificateUrl: string;
  /** Leaf certificate PEM. */
  certificatePem: string;
  /** Intermediates PEM (may be empty when the CA sends the leaf alone). */
  chainPem: string;
  fullchainPem: string;
  notBefore: Date;
  notAfter: Date;
  /** Issuer CN of the top certificate of the chosen chain. */
  chainIssuer: string | undefined;
  /** What the certificate names (exactly the ordered identifiers), once each, in the order given. */
  identifiers: Identifier[];
  /** How many authorizations were already valid and skipped. */
  reusedAuthorizations: number;
}

// As many as the transport keeps connections to the CA (MAX_CONNECTIONS_PER_ORIGIN): more would
// only wait inside the HTTP agent, holding their requests in memory.
const DEFAULT_CONCURRENCY = 8;
/** Per clean-up call; a manual cleanup hook has its own, shorter timeout. */
const CLEANUP_TIMEOUT_MS = 10 * 60_000;

interface PlannedTask {
  task: ChallengeTask;
  solver: Solver;
  entry: BoundAuthorization;
  challenge: Challenge;
}

/**
 * An authorization from the CA and the ordered identifier it is for. Everything handed on (to
 * solvers, events, errors) is taken from `ordered`, acmecli's own value, never from the CA's.
 */
interface BoundAuthorization {
  url: string;
  authorization: Authorization;
  ordered: OrderedIdentifier;
  /** What it was checked against (the order's identifiers, or the one pre-authorized). */
  scope: OrderedIdentifiers;
}

function bindAuthorization(scope: OrderedIdentifiers, url: string, authorization: Authorization): BoundAuthorization {
  return { url, authorization, ordered: scope.bind(authorization, url), scope };
}

function splitWildcard(identifier: Identifier): { base: Identifier; wildcard: boolean } {
  if (identifier.type === 'dns' && identifier.value.startsWith('*.')) {
    return { base: { type: 'dns', value: identifier.value.slice(2) }, wildcard: true };
  }
  return { base: identifier, wildcard: false };
}

/** Per-solver concurrency limits (e.g. 1 for interactive manual hooks). */
class SolverLimiter {
  private readonly active = new Map<Solver, number>();
  private readonly waiting = new Map<Solver, Array<() => void>>();

  async run<T>(solver: Solver, fn: () => Promise<T>): Promise<T> {
    const limit = solver.maxConcurrency ?? Number.POSITIVE_INFINITY;
    while ((this.active.get(solver) ?? 0) >= limit) {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(solver) ?? [];
        queue.push(resolve);
        this.waiting.set(solver, queue);
      });
    }
    this.active.set(solver, (this.active.get(solver) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      this.active.set(solver, (this.active.get(solver) ?? 1) - 1);
      this.waiting.get(solver)?.shift()?.();
    }
  }
}

/**
 * Which solver would handle each identifier, checked before any order exists. Throws a
 * UsageError naming the first identifier no configured plugin can validate.
 */
export function planSolvers(
  identifiers: readonly Identifier[],
  chooseSolver: SolverChooser,
): Map<Solver, { identifiers: Identifier[]; types: Set<ChallengeType> }> {
  const planned = new Map<Solver, { identifiers: Identifier[]; types: Set<ChallengeType> }>();
  for (const identifier of identifiers) {
    const { base, wildcard } = splitWildcard(identifier);
    const possible: readonly ChallengeType[] = wildcard
      ? ['dns-01']
      : identifier.type === 'ip'
        ? ['http-01', 'tls-alpn-01']
        : CHALLENGE_TYPES;
    const choice = chooseSolver(base, wildcard, possible);
    if (!choice) {
      if (wildcard) {
        throw new UsageError(
          `${identifier.value} is a wildcard, which only dns-01 can validate, and no configured plugin solves dns-01`,
          { advice: { kind: 'wildcardNeedsDnsPlugin' } },
        );
      }
      throw new UsageError(
        `no configured challenge plugin can validate ${identifier.value} (possible types: ${possible.join(', ')})`,
      );
    }
    const entry = planned.get(choice.solver) ?? { identifiers: [], types: new Set<ChallengeType>() };
    entry.identifiers.push(identifier);
    entry.types.add(choice.type);
    planned.set(choice.solver, entry);
  }
  return planned;
}

export async function obtainCertificate(client: AcmeClient, options: ObtainOptions): Promise<ObtainResult> {
  const log = options.log ?? silentLogger;
  const emit = options.onEvent ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (options.identifiers.length === 0) throw new UsageError('no identifiers to order a certificate for');
  if ((options.certificateKey === undefined) === (options.csrDer === undefined)) {
    throw new UsageError('give either a certificate key or a CSR');
  }
  const csrPublicKey = options.csrDer ? (await parseCsr(Buffer.from(options.csrDer), 'the CSR')).publicKey : undefined;

  // 1. Every identifier must have a usable solver before anything is ordered.
  const planned = planSolvers(options.identifiers, options.chooseSolver);
  const ordered = new OrderedIdentifiers(options.identifiers);
  const checkOrder = (order: Order, url: string): Order => {
    ordered.assertSame(order.identifiers, (found) => `the CA's order ${url} is for ${found}`);
    return order;
  };
  const solvers = new Set<Solver>(planned.keys());

  try {
    for (const [solver, plan] of planned) {
      await solver.prepare?.({ identifiers: plan.identifiers, types: [...plan.types] }, signal);
    }
    const thumbprint = jwkThumbprint(client.accountKey);
    const solveContext: SolveContext = { client, options, log, emit, signal, concurrency, thumbprint, solvers };

    // 2. Optional pre-authorization (RFC 8555 §7.4.1).
    if (options.preAuthorize && (await client.directory(signal)).newAuthz) {
      const authorizations = await mapLimit(options.identifiers, concurrency, async (identifier) => {
        const created = await client.newAuthz(identifier, signal);
        return bindAuthorization(new OrderedIdentifiers([identifier]), created.url, created.authorization);
      });
      await solveAuthorizations(solveContext, authorizations);
    }

    // 3. The order.
    emit({ type: 'ordering', identifiers: options.identifiers });
    let created: { url: string; order: Order };
    const orderRequest = {
      identifiers: options.identifiers,
      ...(options.notBefore ? { notBefore: options.notBefore } : {}),
      ...(options.notAfter ? { notAfter: options.notAfter } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
    };
    try {
      created = await client.newOrder(
        { ...orderRequest, ...(options.replaces ? { replaces: options.replaces } : {}) },
        signal,
      );
    } catch (error) {
      if (!(error instanceof AlreadyReplacedError) || !options.replaces) throw error;
      log.warn('the CA says the old certificate was already replaced; ordering without "replaces"');
      created = await client.newOrder(orderRequest, signal);
    }
    emit({ type: 'order-created', url: created.url });
    log.debug(`order ${created.url}: ${created.order.status}`);
    checkOrder(created.order, created.url);
    if (created.order.status === 'invalid') {
      throw new InvalidOrderError(
        `the CA created order ${created.url} as invalid: ${describeProblem(created.order.error)}`,
        created.url,
        created.order.error,
      );
    }

    ordered.assertAuthorizationUrls(created.order.authorizations, created.url);
    const fetched = await mapLimit(created.order.authorizations, concurrency, async (url) => ({
      url,
      authorization: (await client.getAuthorization(url, signal)).data,
    }));
    // Every authorization is held against the order before any of them is solved: one for a
    // name that was never ordered, or not exactly one per ordered name, stops the whole order
    // with nothing presented.
    const authorizations = fetched.map((entry) => bindAuthorization(ordered, entry.url, entry.authorization));
    ordered.assertOneEach(authorizations, created.url);
    const reused = await solveAuthorizations(solveContext, authorizations);

    // 4. Finalize once the order is ready.
    let order = created.order;
    if (order.status === 'pending') {
      order = await pollUntil({
        fetch: async () => {
          const response = await client.getOrder(created.url, signal);
          return { value: checkOrder(response.data, created.url), retryAfterSeconds: response.retryAfterSeconds };
        },
        isDone: (o) => o.status !== 'pending',
        describePending: (o) => `order ${created.url} still ${o.status}`,
        signal,
        ...(options.poll ? { policy: options.poll } : {}),
      });
    }
    if (order.status === 'invalid') {
      throw new InvalidOrderError(
        `order ${created.url} became invalid: ${describeProblem(order.error)}`,
        created.url,
        order.error,
      );
    }
    let retryAfter: number | undefined;
    if (order.status === 'ready') {
      emit({ type: 'finalizing' });
      const csrDer = options.csrDer ?? (await createCsr(options.certificateKey as KeyObject, options.identifiers)).der;
      const finalized = await client.finalize(order.finalize, csrDer, signal);
      order = checkOrder(finalized.data, created.url);
      retryAfter = finalized.retryAfterSeconds;
    }
    if (order.status === 'processing' || order.status === 'ready') {
      order = await pollUntil({
        fetch: async () => {
          const response = await client.getOrder(created.url, signal);
          return { value: checkOrder(response.data, created.url), retryAfterSeconds: response.retryAfterSeconds };
        },
        isDone: (o) => o.status === 'valid' || o.status === 'invalid',
        describePending: (o) => `order ${created.url} still ${o.status} after finalization`,
        signal,
        ...(retryAfter !== undefined ? { initialRetryAfterSeconds: retryAfter } : {}),
        ...(options.poll ? { policy: options.poll } : {}),
      });
    }
    if (order.status === 'invalid') {
      throw new InvalidOrderError(
        `order ${created.url} ended invalid without a certificate: ${describeProblem(order.error)}`,
        created.url,
        order.error,
      );
    }
    if (order.status !== 'valid' || typeof order.certificate !== 'string') {
      // An order that went back to pending, or is valid without a certificate URL: an answer
      // outside the protocol, which a later run may not meet.
      throw new NetworkError(
        `order ${created.url} ended ${order.status} without a certificate: ${describeProblem(order.error)}`,
      );
    }

    // 5. Download and choose the chain.
    emit({ type: 'downloading' });
    const chosen = await downloadPreferredChain(client, order.certificate, options.preferredChain, signal, log);
    const expectedKey = csrPublicKey ?? createPublicKey(options.certificateKey as KeyObject);
    const leafInfo = parseCertificate(chosen.pems[0] as string);
    if (!publicKeysEqual(leafInfo.publicKey, expectedKey)) throw new CertificateKeyMismatchError(order.certificate);
    // A certificate for names that were not ordered (or without some that were) is refused: the
    // files acmecli installs must vouch for exactly what the user asked for, nothing more.
    if (leafInfo.otherAltNames.length > 0) {
      throw new OrderMismatchError(
        `the CA's certificate ${order.certificate} holds a subjectAltName of another type (${leafInfo.otherAltNames.join(', ')}), which was not ordered`,
      );
    }
    ordered.assertSame(leafInfo.identifiers, (found) => `the CA's certificate ${order.certificate} names ${found}`, {
      exact: true,
    });
    return {
      orderUrl: created.url,
      certificateUrl: order.certificate,
      certificatePem: chosen.pems[0] as string,
      chainPem: chosen.pems.slice(1).join(''),
      fullchainPem: chosen.pems.join(''),
      notBefore: leafInfo.notBefore,
      notAfter: leafInfo.notAfter,
      chainIssuer: chosen.issuer,
      // The names are checked equal above; a certificate listing one twice lists it once here.
      identifiers: ordered.identifiers,
      reusedAuthorizations: reused,
    };
  } finally {
    for (const solver of solvers) {
      try {
        await solver.dispose?.();
      } catch (error) {
        log.warn(`${solver.name}: clean-up of the plugin failed: ${messageOf(error)}`);
      }
    }
  }
}

interface SolveContext {
  client: AcmeClient;
  options: ObtainOptions;
  log: Logger;
  emit: (event: ObtainEvent) => void;
  signal: AbortSignal;
  concurrency: number;
  thumbprint: string;
  solvers: Set<Solver>;
}

/** Solves every pending authorization; returns how many were already valid. */
async function solveAuthorizations(
  context: SolveContext,
  authorizations: readonly BoundAuthorization[],
): Promise<number> {
  const { client, options, log, emit, signal, concurrency } = context;
  let reused = 0;
  const pending: BoundAuthorization[] = [];
  const failures: ValidationFailure[] = [];
  for (const entry of authorizations) {
    const { authorization, ordered } = entry;
    if (authorization.status === 'valid') {
      reused++;
      emit({ type: 'authorization-reused', identifier: ordered.name });
      continue;
    }
    if (authorization.status !== 'pending') {
      failures.push({
        identifier: ordered.base,
        wildcard: ordered.wildcard,
        challengeType: undefined,
        problem: undefined,
        localReason: `authorization is ${oneLine(authorization.status)}`,
      });
      continue;
    }
    pending.push(entry);
  }
  if (failures.length > 0) throw new ValidationError(failures);
  if (pending.length === 0) return reused;

  // Build the tasks (no side effects yet), from the ordered identifiers only.
  const allNames = pending.map((entry) => entry.ordered.name);
  const planned: PlannedTask[] = [];
  const inFlight: BoundAuthorization[] = [];
  for (const [index, entry] of pending.entries()) {
    const { authorization, ordered } = entry;
    // A challenge already being processed (an earlier run answered it) only needs polling.
    if (authorization.challenges.some((c) => c.status === 'processing' || c.status === 'valid')) {
      inFlight.push(entry);
      continue;
    }
    const offered = authorization.challenges.filter(
      (c): c is Challenge & { type: ChallengeType; token: string } =>
        (CHALLENGE_TYPES as readonly string[]).includes(c.type) && typeof c.token === 'string' && isBase64Url(c.token),
    );
    const choice = options.chooseSolver(ordered.base, ordered.wildcard, [...new Set(offered.map((c) => c.type))]);
    if (!choice) {
      const offeredTypes = authorization.challenges.map((c) => oneLine(c.type)).join(', ') || 'no challenge';
      throw new AcmeFeatureError(
        `the CA offers only ${offeredTypes} for ${ordered.name}, and no configured challenge plugin can solve that`,
      );
    }
    const challenge = offered.find((c) => c.type === choice.type) as Challenge & { token: string };
    assertCaUrl(challenge.url, `the ${choice.type} challenge URL for ${ordered.name}`);
    context.solvers.add(choice.solver);
    const keyAuth = keyAuthorization(challenge.token, context.thumbprint);
    const identifier = ordered.base;
    const base = {
      identifier,
      wildcard: ordered.wildcard,
      keyAuthorization: keyAuth,
      batch: { index, total: pending.length, identifiers: allNames },
    };
    let task: ChallengeTask;
    if (choice.type === 'http-01') {
      task = {
        ...base,
        type: 'http-01',
        token: challenge.token,
        path: `/.well-known/acme-challenge/${challenge.token}`,
      };
    } else if (choice.type === 'dns-01') {
      task = {
        ...base,
        type: 'dns-01',
        token: challenge.token,
        recordName: `_acme-challenge.${identifier.value}`,
        txtValue: dns01TxtValue(keyAuth),
      };
    } else {
      const alpn = await createTlsAlpnCertificate(identifier, keyAuth);
      const serverName = identifier.type === 'ip' ? ipToReverseDnsName(identifier.value) : identifier.value;
      task = { ...base, type: 'tls-alpn-01', token: challenge.token, serverName, ...alpn };
    }
    planned.push({ task, solver: choice.solver, entry, challenge });
  }

  const limiter = new SolverLimiter();
  const attempted: PlannedTask[] = [];
  let succeeded = false;
  try {
    // Present everything; stop at the first local failure but let started ones finish.
    const presented = await settleLimit(planned, concurrency, (item) =>
      limiter.run(item.solver, async () => {
        if (signal.aborted) throw new AbortedError('cancelled', { cause: signal.reason });
        attempted.push(item);
        emit({ type: 'presenting', identifier: item.entry.ordered.name, challengeType: item.task.type });
        await item.solver.present(item.task, signal);
      }),
    );
    const presentFailures = presented.flatMap((r, i) =>
      r.status === 'rejected' ? [{ item: planned[i] as PlannedTask, error: r.reason as unknown }] : [],
    );
    if (presentFailures.length > 0) {
      const first = presentFailures[0] as { item: PlannedTask; error: unknown };
      if (first.error instanceof AbortedError) throw first.error;
      if (signal.aborted) throw new AbortedError('cancelled', { cause: first.error });
      if (presentFailures.length === 1 && first.error instanceof Error && 'exitCode' in first.error) throw first.error;
      throw new PluginError(
        presentFailures.map((f) => `${f.item.entry.ordered.name}: ${messageOf(f.error)}`).join('; '),
        { cause: first.error },
      );
    }

    await mapLimit(planned, concurrency, async (item) => {
      await item.solver.waitUntilVisible?.(item.task, signal);
    });

    await mapLimit(planned, concurrency, async (item) => {
      emit({ type: 'validating', identifier: item.entry.ordered.name, challengeType: item.task.type });
      await client.respondToChallenge(item.challenge.url, signal);
    });

    const toPoll = [
      ...planned.map((p) => ({ entry: p.entry, type: p.task.type })),
      ...inFlight.map((entry) => ({ entry, type: undefined })),
    ];
    const results = await mapLimit(toPoll, concurrency, async (item) => {
      const { url, ordered, scope } = item.entry;
      const final = await pollUntil({
        fetch: async () => {
          const response = await client.getAuthorization(url, signal);
          // The same authorization may not turn into another name while it is being validated.
          if (scope.bind(response.data, url) !== ordered) {
            throw new OrderMismatchError(
              `the CA's authorization ${url} for ${ordered.name} now names another identifier`,
            );
          }
          return { value: response.data, retryAfterSeconds: response.retryAfterSeconds };
        },
        isDone: (a) => a.status !== 'pending',
        describePending: (a) => `authorization for ${ordered.name} still ${oneLine(a.status)}`,
        signal,
        ...(options.poll ? { policy: options.poll } : {}),
      });
      return { item, final };
    });
    for (const { item, final } of results) {
      const { ordered } = item.entry;
      if (final.status === 'valid') {
        emit({ type: 'authorization-valid', identifier: ordered.name });
        continue;
      }
      const failed =
        final.challenges.find((c) => c.status === 'invalid' || c.error) ??
        final.challenges.find((c) => c.type === item.type);
      emit({ type: 'authorization-invalid', identifier: ordered.name, reason: describeProblem(failed?.error) });
      failures.push({
        identifier: ordered.base,
        wildcard: ordered.wildcard,
        challengeType: failed?.type ?? item.type,
        problem: failed?.error,
        ...(failed?.error ? {} : { localReason: `authorization ended ${oneLine(final.status)}` }),
      });
    }
    if (failures.length > 0) throw new ValidationError(failures);
    succeeded = true;
    return reused;
  } finally {
    // Clean-up runs even when aborted, so it gets signals of its own: one per task, since a
    // sequential solver (manual hooks) may spend its full hook timeout on each.
    const cleanupSignal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
    await settleLimit(attempted, concurrency, async (item) => {
      try {
        await limiter.run(item.solver, () => item.solver.cleanUp(item.task, AbortSignal.timeout(CLEANUP_TIMEOUT_MS)));
      } catch (error) {
        log.warn(`${item.solver.name}: clean-up for ${item.entry.ordered.name} failed: ${messageOf(error)}`);
      }
    });
    if (!succeeded) {
      // Leave no pending authorizations behind (they count against CA limits).
      await settleLimit(planned, concurrency, async (item) => {
        try {
          const current = await client.getAuthorization(item.entry.url, cleanupSignal);
          if (current.data.status === 'pending') await client.deactivateAuthorization(item.entry.url, cleanupSignal);
        } catch (error) {
          log.debug(`could not deactivate ${item.entry.url}: ${messageOf(error)}`);
        }
      });
    }
  }
}

/**
 * The PEM chain from `url`, split and checked link by link. An unusable one is a NetworkError
 * (exit 5), not a verdict: a body cut off in transit that still ended cleanly reads the same way.
 */
function usableChain(pem: string, url: string): string[] {
  try {
    const pems = splitPemChain(pem, url);
    verifyChain(pems);
    return pems;
  } catch (error) {
    throw new NetworkError(`the certificate chain from ${url} is unusable: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * The default chain, or with `preferredChain` the alternate whose top issuer (or any issuer)
 * has that common name. The certificate exists by then: an alternate that cannot be fetched,
 * is broken, or carries another leaf is skipped with a warning and never fails the run.
 */
async function downloadPreferredChain(
  client: AcmeClient,
  certificateUrl: string,
  preferredChain: string | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<{ pems: string[]; issuer: string | undefined }> {
  const primary = await client.downloadCertificate(certificateUrl, signal);
  const primaryPems = usableChain(primary.pem, certificateUrl);
  const candidates = [primaryPems];
  if (preferredChain !== undefined) {
    for (const refused of primary.refusedAlternates) {
      log.warn(`the alternate chain ${refused.url} was skipped: ${refused.reason}`);
    }
    for (const url of primary.alternates.slice(0, 10)) {
      try {
        const pems = usableChain((await client.downloadCertificate(url, signal)).pem, url);
        if (pems[0] !== primaryPems[0]) throw new Error(`its leaf is not the certificate from ${certificateUrl}`);
        candidates.push(pems);
      } catch (error) {
        if (error instanceof AbortedError || signal.aborted) throw error;
        log.warn(`the alternate chain ${url} could not be used (${messageOf(error)}); choosing among the others`);
      }
    }
  }
  const parsed = candidates.map((pems) => {
    const all = pems.map((p) => parseCertificate(p));
    return { pems, issuer: all[all.length - 1]?.issuerCommonName, all };
  });
  if (preferredChain !== undefined) {
    const wanted = preferredChain.trim().toLowerCase();
    const byTopIssuer = parsed.find((c) => c.issuer?.toLowerCase() === wanted);
    const byAnyName = parsed.find((c) => c.all.some((info) => info.issuerCommonName?.toLowerCase() === wanted));
    const match = byTopIssuer ?? byAnyName;
    if (match) return { pems: match.pems, issuer: match.issuer };
    log.warn(`no chain from the CA is issued by "${preferredChain}"; using the default chain`);
  }
  const first = parsed[0] as { pems: string[]; issuer: string | undefined };
  return { pems: first.pems, issuer: first.issuer };
}
