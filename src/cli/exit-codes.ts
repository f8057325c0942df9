/** Exit codes, as documented in README.md ("Exit codes"); `--help` prints this table. */
import { ExitCode } from '../errors.js';
export { ExitCode };

/** One line per code; keyed by name, so a code added to ExitCode cannot go undocumented here. */
const MEANINGS: Readonly<Record<keyof typeof ExitCode, string>> = {
  ok: 'success (also: nothing was due for renewal)',
  bug: 'unexpected error (a bug: please report it)',
  usage: 'usage error: bad option, domain, key or missing input',
  caRejected: 'the CA refused a request or an order, or issued something other than what was ordered',
  validation: 'challenge validation failed, or a challenge plugin could not set it up',
  network: 'network failure talking to the CA (an answer cut off or malformed), or the CA did not finish in time',
  local: 'local error: config dir, permissions, lock held, unreadable file',
  renewPartial: 'renew: at least one certificate failed (others may have renewed)',
  reloadFailed: 'the reload command failed (the new certificate is in place)',
  interrupted: 'interrupted (Ctrl-C / SIGTERM)',
};

export const EXIT_CODE_TABLE: ReadonlyArray<[number, string]> = (
  Object.keys(MEANINGS) as Array<keyof typeof ExitCode>
).map((name) => [ExitCode[name], MEANINGS[name]]);
