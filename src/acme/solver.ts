/**
 * The only thing the protocol core asks of challenge plugins.
 *
 * Obligations of every Solver:
 * - `present` does the minimum and returns; slow work (DNS propagation) belongs in
 *   `waitUntilVisible`. Skipping `waitUntilVisible` may cost time, never correctness.
 * - `cleanUp` is called for every task whose `present` was attempted, even when `present` threw
 *   or the run was aborted. It removes only what this run created. Its errors are reported but
 *   never replace the primary error.
 * - Everything honours `signal` promptly (Ctrl-C): no timer without the signal.
 * - No `process.*`, no direct stdin/stdout: plugins get what they need from their context.
 * - No ACME maths: key authorizations, TXT values and tls-alpn-01 certificates come precomputed.
 */
import type { Identifier } from './types.js';

export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';
export const CHALLENGE_TYPES: readonly ChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01'];

export interface ChallengeBatch {
  /** 0-based position of this task in the order's tasks. */
  index: number;
  total: number;
  /** Every identifier value of the order (certbot's CERTBOT_ALL_DOMAINS). */
  identifiers: readonly string[];
}

interface TaskBase {
  identifier: Identifier;
  /** True for `*.example.com`; `identifier.value` is then the base name `example.com`. */
  wildcard: boolean;
  /** token + "." + account key thumbprint (RFC 8555 8.1). */
  keyAuthorization: string;
  batch: ChallengeBatch;
}

export interface Http01Task extends TaskBase {
  type: 'http-01';
  /** Already checked to be base64url: safe as a file name. */
  token: string;
  /** `/.well-known/acme-challenge/<token>` */
  path: string;
}

export interface Dns01Task extends TaskBase {
  type: 'dns-01';
  /** `_acme-challenge.<name>` without trailing dot; src/challenges/dns01/coordinator.ts follows CNAME delegation. */
  recordName: string;
  /** base64url(SHA-256(keyAuthorization)) */
  txtValue: string;
  /** The token, for certbot's CERTBOT_TOKEN (empty for dns-01 in certbot; kept for hooks). */
  token: string;
}

export interface TlsAlpn01Task extends TaskBase {
  type: 'tls-alpn-01';
  token: string;
  /** Self-signed certificate with the critical acmeIdentifier extension (RFC 8737), and its key. */
  certificatePem: string;
  privateKeyPem: string;
  /** The SNI name the validator sends (the identifier; reverse-DNS name for IP identifiers). */
  serverName: string;
}

export type ChallengeTask = Http01Task | Dns01Task | TlsAlpn01Task;

/** What the orchestrator knows before placing the order, for `prepare`. */
export interface SolvePlan {
  identifiers: readonly Identifier[];
  /** Challenge types this solver is expected to handle in this run. */
  types: readonly ChallengeType[];
}

export interface Solver {
  readonly name: string;
  /** At most this many `present` calls at once (1 for an interactive manual plugin). */
  readonly maxConcurrency?: number;
  /** Before newOrder: port free? webroot exists? TSIG key parses? Throw PluginError/UsageError. */
  prepare?(plan: SolvePlan, signal: AbortSignal): Promise<void>;
  present(task: ChallengeTask, signal: AbortSignal): Promise<void>;
  waitUntilVisible?(task: ChallengeTask, signal: AbortSignal): Promise<void>;
  cleanUp(task: ChallengeTask, signal: AbortSignal): Promise<void>;
  /** Stop listeners, close sockets. Always called once at the end of a run. */
  dispose?(): Promise<void>;
}

/** Picks the solver and challenge type for one identifier among the types the CA offers. */
export type SolverChooser = (
  identifier: Identifier,
  wildcard: boolean,
  offered: readonly ChallengeType[],
) => { solver: Solver; type: ChallengeType } | undefined;
