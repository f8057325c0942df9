/**
 * RFC 8555 §6.7 problem documents as typed errors. The whole document stays on the error as data
 * (type, detail, status, subproblems, Retry-After), and only what code branches on gets a class.
 */
import { AcmecliError, ExitCode, type Advice } from '../errors.js';
import type { Identifier, ProblemDocument } from './types.js';

export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

export interface Subproblem {
  type: string;
  code?: string;
  detail?: string;
  identifier?: Identifier;
}

export interface AcmeProblemInit {
  problem: ProblemDocument;
  status: number;
  method: string;
  url: string;
  retryAfterSeconds?: number;
}

/** The short RFC name (`badNonce`) of a full URN, or undefined for non-ACME types. */
export function problemCode(type: unknown): string | undefined {
  // `type` comes from the CA's JSON: anything, not only a string.
  if (typeof type !== 'string' || !type.startsWith(ACME_ERROR_PREFIX)) return undefined;
  return type.slice(ACME_ERROR_PREFIX.length);
}

function describeIdentifier(identifier: Identifier | undefined): string {
  return identifier ? `${identifier.value}: ` : '';
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export class AcmeProblemError extends AcmecliError {
  readonly type: string;
  readonly code: string | undefined;
  readonly detail: string | undefined;
  readonly status: number;
  readonly instance: string | undefined;
  readonly subproblems: readonly Subproblem[];
  readonly retryAfterSeconds: number | undefined;
  readonly method: string;
  readonly url: string;
  readonly problem: ProblemDocument;

  constructor(init: AcmeProblemInit) {
    const type = typeof init.problem.type === 'string' ? init.problem.type : 'about:blank';
    const code = problemCode(type);
    const detail = typeof init.problem.detail === 'string' ? oneLine(init.problem.detail) : undefined;
    const subproblems = parseSubproblems(init.problem.subproblems);
    const summary = detail ?? (typeof init.problem.title === 'string' ? init.problem.title : undefined);
    const parts = [`the CA refused the request (${code ?? type}, HTTP ${init.status})`];
    if (summary) parts.push(summary);
    const subs = subproblems
      .map((s) => `${describeIdentifier(s.identifier)}${s.code ?? s.type}${s.detail ? ` ${oneLine(s.detail)}` : ''}`)
      .join('; ');
    if (subs && !summary?.includes(subs)) parts.push(`[${subs}]`);
    const advice = caProblemAdvice(code, [detail, ...subproblems.map((s) => s.detail)]);
    // type, title and subproblem fields come from the CA as well: the message stays one line.
    super(oneLine(parts.join(': ')), ExitCode.caRejected, advice === undefined ? {} : { advice });
    this.type = type;
    this.code = code;
    this.detail = detail;
    this.status = init.status;
    this.instance = typeof init.problem.instance === 'string' ? init.problem.instance : undefined;
    this.subproblems = subproblems;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.method = init.method;
    this.url = init.url;
    this.problem = init.problem;
  }
}

export class BadNonceError extends AcmeProblemError {}
export class RateLimitedError extends AcmeProblemError {}
export class AlreadyReplacedError extends AcmeProblemError {}
export class ExternalAccountRequiredError extends AcmeProblemError {}
export class AccountDoesNotExistError extends AcmeProblemError {}
export class UserActionRequiredError extends AcmeProblemError {}

function parseSubproblems(raw: unknown): Subproblem[] {
  if (!Array.isArray(raw)) return [];
  const result: Subproblem[] = [];
  for (const item of raw.slice(0, 100)) {
    if (typeof item !== 'object' || item === null) continue;
    const doc = item as ProblemDocument;
    const type = typeof doc.type === 'string' ? doc.type : 'about:blank';
    const sub: Subproblem = { type };
    const code = problemCode(type);
    if (code !== undefined) sub.code = code;
    if (typeof doc.detail === 'string') sub.detail = doc.detail;
    const id = doc.identifier;
    if (id && typeof id === 'object' && typeof id.type === 'string' && typeof id.value === 'string') {
      sub.identifier = { type: id.type, value: id.value };
    }
    result.push(sub);
  }
  return result;
}

/** Builds the right error class for a problem document. */
export function problemError(init: AcmeProblemInit): AcmeProblemError {
  switch (problemCode(init.problem.type)) {
    case 'badNonce':
      return new BadNonceError(init);
    case 'rateLimited':
      return new RateLimitedError(init);
    case 'alreadyReplaced':
      return new AlreadyReplacedError(init);
    case 'externalAccountRequired':
      return new ExternalAccountRequiredError(init);
    case 'accountDoesNotExist':
      return new AccountDoesNotExistError(init);
    case 'userActionRequired':
      return new UserActionRequiredError(init);
    default:
      return new AcmeProblemError(init);
  }
}

/** A CA result code as CAs put them in `detail` (Certigna: `OUT_OF_CREDIT`, shared/seeds 000). */
const RESULT_CODE_PATTERN = /\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g;
/** Enough for any real detail; a CA that lists more gets no more attention. */
const MAX_RESULT_CODES = 10;

/**
 * The facts advice is worded from (src/cli/hints.ts): the RFC problem type (`badNonce`) and the
 * result codes found in the details, in order. Undefined when there is neither.
 */
export function caProblemAdvice(
  problemType: string | undefined,
  details: readonly (string | undefined)[],
): Advice | undefined {
  const resultCodes: string[] = [];
  for (const detail of details) {
    if (typeof detail !== 'string') continue;
    for (const match of detail.matchAll(RESULT_CODE_PATTERN)) {
      const code = match[1] as string;
      if (resultCodes.length < MAX_RESULT_CODES && !resultCodes.includes(code)) resultCodes.push(code);
    }
  }
  if (problemType === undefined && resultCodes.length === 0) return undefined;
  return { kind: 'caProblem', problemType, resultCodes };
}

/** The one-line description of a challenge/order error embedded in an ACME object. */
export function describeProblem(problem: ProblemDocument | undefined): string {
  if (!problem) return 'no detail given';
  const code = problemCode(problem.type) ?? (typeof problem.type === 'string' ? oneLine(problem.type) : 'error');
  const detail = typeof problem.detail === 'string' ? oneLine(problem.detail) : '';
  return detail ? `${code}: ${detail}` : code;
}
