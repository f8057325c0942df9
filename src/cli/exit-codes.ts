/** Exit codes, as documented in README.md ("Exit codes"). */
export { ExitCode } from '../errors.js';

export const EXIT_CODE_TABLE: ReadonlyArray<[number, string]> = [
  [0, 'success (also: nothing was due for renewal)'],
  [1, 'unexpected error (a bug: please report it)'],
  [2, 'usage error: bad option, domain, key or missing input'],
  [3, 'the CA refused a request (its problem type and detail are printed)'],
  [4, 'challenge validation failed, or a challenge plugin could not set it up'],
  [5, 'network failure talking to the CA, or the CA did not finish in time'],
  [6, 'local error: config dir, permissions, lock held, unreadable file'],
  [7, 'renew: at least one certificate failed (others may have renewed)'],
  [8, 'the reload command failed (the new certificate is in place)'],
  [130, 'interrupted (Ctrl-C / SIGTERM)'],
];
