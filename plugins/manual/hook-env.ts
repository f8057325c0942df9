/**
 * Environment for manual auth/cleanup hooks: certbot's `CERTBOT_*` names, so existing certbot
 * hook scripts run unchanged, plus acmecli's own `ACMECLI_*` names with everything a hook could
 * need. Values travel only in the environment, never inside the command string, so nothing the
 * CA sends is ever parsed by a shell.
 *
 * Every variable is always set (empty when it does not apply): the hook inherits acmecli's own
 * environment, and a stale value from there (a hook run from another hook, say) must not leak
 * through. certbot unsets CERTBOT_TOKEN for dns-01; empty is the closest an added environment gets.
 */
import type { ChallengeTask } from '../../src/acme/solver.js';

export interface HookEnvOptions {
  /** The auth hook's stdout, trimmed: cleanup hooks only (certbot's CERTBOT_AUTH_OUTPUT). */
  authOutput?: string;
  /** dns-01: where to write when that is not the task's own name (`--challenge-alias`). */
  txtName?: string;
}

export const CERTBOT_HOOK_VARIABLES = [
  'CERTBOT_DOMAIN',
  'CERTBOT_VALIDATION',
  'CERTBOT_TOKEN',
  'CERTBOT_REMAINING_CHALLENGES',
  'CERTBOT_ALL_DOMAINS',
  'CERTBOT_AUTH_OUTPUT',
] as const;

export const ACMECLI_HOOK_VARIABLES = [
  'ACMECLI_DOMAIN',
  'ACMECLI_IDENTIFIER_TYPE',
  'ACMECLI_WILDCARD',
  'ACMECLI_CHALLENGE_TYPE',
  'ACMECLI_TOKEN',
  'ACMECLI_KEY_AUTHORIZATION',
  'ACMECLI_TXT_NAME',
  'ACMECLI_TXT_VALUE',
  'ACMECLI_HTTP_PATH',
  'ACMECLI_REMAINING_CHALLENGES',
  'ACMECLI_ALL_DOMAINS',
  'ACMECLI_AUTH_OUTPUT',
] as const;

export type HookVariable = (typeof CERTBOT_HOOK_VARIABLES)[number] | (typeof ACMECLI_HOOK_VARIABLES)[number];
export type HookEnv = Record<HookVariable, string>;

/** The value a hook must publish: the key authorization (http-01) or the TXT value (dns-01). */
export function validationOf(task: ChallengeTask): string {
  return task.type === 'dns-01' ? task.txtValue : task.keyAuthorization;
}

/** Challenges left after this one, in the order the hooks run (certbot counts down to 0). */
export function remainingChallenges(task: ChallengeTask): number {
  return Math.max(0, task.batch.total - task.batch.index - 1);
}

export function buildHookEnv(task: ChallengeTask, options: HookEnvOptions = {}): HookEnv {
  const remaining = String(remainingChallenges(task));
  const authOutput = options.authOutput ?? '';
  // certbot lists authorization names, which carry no `*.`; ACMECLI_ALL_DOMAINS keeps the
  // order's names as requested.
  const certbotAllDomains = task.batch.identifiers.map((name) => name.replace(/^\*\./, '')).join(',');
  const httpToken = task.type === 'http-01' ? task.token : '';

  return {
    CERTBOT_DOMAIN: task.identifier.value,
    CERTBOT_VALIDATION: validationOf(task),
    CERTBOT_TOKEN: httpToken,
    CERTBOT_REMAINING_CHALLENGES: remaining,
    CERTBOT_ALL_DOMAINS: certbotAllDomains,
    CERTBOT_AUTH_OUTPUT: authOutput,

    ACMECLI_DOMAIN: task.identifier.value,
    ACMECLI_IDENTIFIER_TYPE: task.identifier.type,
    ACMECLI_WILDCARD: task.wildcard ? 'true' : 'false',
    ACMECLI_CHALLENGE_TYPE: task.type,
    ACMECLI_TOKEN: task.token,
    ACMECLI_KEY_AUTHORIZATION: task.keyAuthorization,
    ACMECLI_TXT_NAME: task.type === 'dns-01' ? (options.txtName ?? task.recordName) : '',
    ACMECLI_TXT_VALUE: task.type === 'dns-01' ? task.txtValue : '',
    ACMECLI_HTTP_PATH: task.type === 'http-01' ? task.path : '',
    ACMECLI_REMAINING_CHALLENGES: remaining,
    ACMECLI_ALL_DOMAINS: task.batch.identifiers.join(','),
    ACMECLI_AUTH_OUTPUT: authOutput,
  };
}
