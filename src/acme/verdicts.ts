/**
 * The CA's verdicts on an order that arrive as the order's state or as the certificate, not as a
 * problem document answering a request (those are problem.ts's). Each carries the exit code of
 * what the user must do next.
 */
import { AcmecliError, ExitCode } from '../errors.js';
import { caProblemAdvice, problemCode } from './problem.js';
import type { ProblemDocument } from './types.js';

/** RFC 8555 problem types that report a failed check of control over a name (§6.7, §8). */
const VALIDATION_PROBLEMS: ReadonlySet<string> = new Set([
  'caa',
  'connection',
  'dns',
  'incorrectResponse',
  'tls',
  'unauthorized',
]);

function isValidationProblem(problem: ProblemDocument | undefined): boolean {
  if (problem === undefined) return false;
  const code = problemCode(problem.type);
  if (code !== undefined && VALIDATION_PROBLEMS.has(code)) return true;
  const subproblems = Array.isArray(problem.subproblems) ? problem.subproblems : [];
  return (
    code === 'compound' &&
    subproblems.length > 0 &&
    subproblems.every((sub) => VALIDATION_PROBLEMS.has(problemCode(sub?.type) ?? ''))
  );
}

/**
 * The CA declared an order invalid: when creating it, while its authorizations were solved, or
 * after finalization. The exit code follows what the user must do, read from the order's error:
 * a validation problem (`dns`, `connection`, `unauthorized`..., or a compound of only those, as a
 * CA that checks control at the order's level reports a failed check) means fixing the
 * challenge's setup, exit 4 as for a failed authorization. Anything else, or no error at all (an
 * expired order, a CA that failed to issue, a policy refusal), is the CA's verdict on the order,
 * exit 3: the account, the names or the CA's side must change. Never 5: the order's state arrived
 * whole, and asking again reads the same state.
 */
export class InvalidOrderError extends AcmecliError {
  constructor(
    message: string,
    readonly orderUrl: string,
    readonly problem: ProblemDocument | undefined,
  ) {
    const advice =
      problem === undefined
        ? undefined
        : caProblemAdvice(problemCode(problem.type), [
            problem.detail,
            ...(Array.isArray(problem.subproblems) ? problem.subproblems.map((sub) => sub?.detail) : []),
          ]);
    super(
      message,
      isValidationProblem(problem) ? ExitCode.validation : ExitCode.caRejected,
      advice === undefined ? {} : { advice },
    );
  }
}

/**
 * The CA issued the certificate for another public key than the CSR's. Nothing is installed, and
 * the user has nothing to fix locally nor anything a retry would change: the CA must be told (a
 * bug, or a CA handing out a certificate someone else asked for). So it is the CA's verdict, exit 3,
 * like a certificate for names that were not ordered (OrderMismatchError); not 5, which says the
 * exchange failed and a later run may succeed.
 */
export class CertificateKeyMismatchError extends AcmecliError {
  constructor(readonly certificateUrl: string) {
    super(
      `the CA returned a certificate (${certificateUrl}) whose public key does not match the certificate key`,
      ExitCode.caRejected,
    );
  }
}
