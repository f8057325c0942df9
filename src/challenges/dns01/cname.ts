/**
 * Where a dns-01 TXT record really goes.
 *
 * - `--challenge-alias ALIAS` (acme.sh's DNS alias mode, `--challenge-alias`): every record is
 *   written at `_acme-challenge.<ALIAS>`, whatever the identifier. The user has made
 *   `_acme-challenge.<name>` a CNAME to it; the CA follows that CNAME, we write at its target.
 *   No CNAME is looked up in this mode: the alias is the user's statement of where to write.
 * - Otherwise the CNAME chain at `_acme-challenge.<name>` is followed (as lego does; the CA
 *   follows it too) and the TXT goes to its final target. Bounded and loop-safe.
 */
import { PluginError } from '../../errors.js';
import { normalizeDnsName, type DnsLookup } from './lookup.js';
import type { Dns01Settings } from './settings.js';

/** More than this many CNAMEs is a misconfiguration (and CAs give up around here too). */
export const MAX_CNAME_HOPS = 10;

export const CHALLENGE_LABEL = '_acme-challenge';

/** `_acme-challenge.<ALIAS>` under `--challenge-alias`, else undefined. */
export function challengeAliasName(settings: Dns01Settings): string | undefined {
  const alias = settings.challengeAlias?.trim();
  return alias === undefined || alias === '' ? undefined : `${CHALLENGE_LABEL}.${normalizeDnsName(alias)}`;
}

export async function resolveChallengeRecordName(
  recordName: string,
  settings: Dns01Settings,
  resolver: DnsLookup,
  signal: AbortSignal,
): Promise<string> {
  const aliasName = challengeAliasName(settings);
  if (aliasName !== undefined) return aliasName;
  let current = normalizeDnsName(recordName);
  const chain = [current];
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const target = await resolver.cname(current, signal);
    if (target === undefined) return current;
    const next = normalizeDnsName(target);
    if (chain.includes(next)) {
      throw new PluginError(`CNAME loop at ${recordName}: ${[...chain, next].join(' → ')}`, {
        hint: 'fix the CNAME records of the _acme-challenge name',
      });
    }
    chain.push(next);
    current = next;
  }
  throw new PluginError(`more than ${MAX_CNAME_HOPS} CNAMEs from ${recordName}: ${chain.join(' → ')}`, {
    hint: 'fix the CNAME records of the _acme-challenge name',
  });
}
