/**
 * Which plugin solves which identifier, with which challenge type: the first type in the
 * preference order that the CA offers and a selected plugin can do. Wildcards can only use dns-01.
 */
import { UsageError } from '../errors.js';
import { CHALLENGE_TYPES, type ChallengeType, type Solver, type SolverChooser } from '../acme/solver.js';

export interface SelectedSolver {
  solver: Solver;
  types: readonly ChallengeType[];
  /** Identifier values this solver may handle (webroot: the names that have a webroot); all when absent. */
  handles?: (identifierValue: string, wildcard: boolean) => boolean;
}

/** `--preferred-challenges`: certbot spellings (`dns`, `http`, `tls-alpn`) and RFC names, comma-separated. */
export function parsePreferredChallenges(values: readonly string[] | string | undefined): ChallengeType[] | undefined {
  if (values === undefined) return undefined;
  const list = (Array.isArray(values) ? values : [values]).flatMap((v: string) => v.split(','));
  const result: ChallengeType[] = [];
  for (const entry of list) {
    const text = entry.trim().toLowerCase();
    if (text === '') continue;
    const type =
      text === 'http'
        ? 'http-01'
        : text === 'dns'
          ? 'dns-01'
          : text === 'tls-alpn' || text === 'tls'
            ? 'tls-alpn-01'
            : text;
    if (!(CHALLENGE_TYPES as readonly string[]).includes(type)) {
      throw new UsageError(
        `unknown challenge type "${entry.trim()}" for --preferred-challenges: use http-01, dns-01 or tls-alpn-01`,
      );
    }
    if (!result.includes(type as ChallengeType)) result.push(type as ChallengeType);
  }
  return result.length > 0 ? result : undefined;
}

export function createSolverChooser(
  selected: readonly SelectedSolver[],
  preferred: readonly ChallengeType[] | undefined,
): SolverChooser {
  const order = preferred ?? (['http-01', 'dns-01', 'tls-alpn-01'] as const);
  return (identifier, wildcard, offered) => {
    for (const type of order) {
      if (!offered.includes(type)) continue;
      for (const candidate of selected) {
        if (!candidate.types.includes(type)) continue;
        if (candidate.handles && !candidate.handles(identifier.value, wildcard)) continue;
        return { solver: candidate.solver, type };
      }
    }
    return undefined;
  };
}
