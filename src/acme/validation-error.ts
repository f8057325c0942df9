import { AcmecliError, ExitCode } from '../errors.js';
import type { Identifier, ProblemDocument } from './types.js';
import { caProblemAdvice, describeProblem, problemCode } from './problem.js';

export interface ValidationFailure {
  identifier: Identifier;
  wildcard: boolean;
  challengeType: string | undefined;
  problem: ProblemDocument | undefined;
  /** Set when the failure was local (a plugin could not present) rather than the CA's verdict. */
  localReason?: string;
}

function label(failure: ValidationFailure): string {
  const name = failure.wildcard ? `*.${failure.identifier.value}` : failure.identifier.value;
  return failure.challengeType ? `${name} (${failure.challengeType})` : name;
}

/**
 * One or more authorizations failed; every failing identifier is named with the CA's reason.
 * Exit 4: what the user fixes is the challenge's setup (DNS, web server, firewall), then runs again.
 */
export class ValidationError extends AcmecliError {
  readonly failures: readonly ValidationFailure[];

  constructor(failures: readonly ValidationFailure[]) {
    const parts = failures.map((f) => `${label(f)}: ${f.localReason ?? describeProblem(f.problem)}`);
    const noun = failures.length === 1 ? 'validation failed for' : `validation failed for ${failures.length} names:`;
    const first = failures.find((f) => f.problem)?.problem;
    const advice = caProblemAdvice(
      problemCode(first?.type),
      failures.map((f) => f.problem?.detail),
    );
    super(`${noun} ${parts.join('; ')}`, ExitCode.validation, advice === undefined ? {} : { advice });
    this.failures = failures;
  }
}
