import { AcmecliError, ExitCode } from '../errors.js';
import type { Identifier, ProblemDocument } from './types.js';
import { describeProblem } from './problem.js';
import { hintForProblem } from './ca-hints.js';
import { problemCode } from './problem.js';

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

/** One or more authorizations failed; every failing identifier is named with the CA's reason. */
export class ValidationError extends AcmecliError {
  readonly failures: readonly ValidationFailure[];

  constructor(failures: readonly ValidationFailure[], options: { hint?: string } = {}) {
    const parts = failures.map((f) => `${label(f)}: ${f.localReason ?? describeProblem(f.problem)}`);
    const noun = failures.length === 1 ? 'validation failed for' : `validation failed for ${failures.length} names:`;
    const first = failures.find((f) => f.problem)?.problem;
    const hint =
      options.hint ??
      hintForProblem(
        problemCode(first?.type),
        failures.map((f) => f.problem?.detail),
      );
    super(`${noun} ${parts.join('; ')}`, ExitCode.validation, hint === undefined ? {} : { hint });
    this.failures = failures;
  }
}
