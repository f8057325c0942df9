/**
 * Which zone holds a name: walk up its labels asking for a SOA until one answers (lego's
 * FindZoneByFqdn, without hand-written DNS). NXDOMAIN and NODATA both mean "not a zone apex, go up".
 */
import { PluginError } from '../../errors.js';
import { DnsLookupError, normalizeDnsName, type DnsLookup } from './lookup.js';

export interface ZoneInfo {
  /** Lowercase, no trailing dot. */
  zone: string;
  /** The SOA MNAME: the primary name server, where dynamic updates usually go. */
  primaryNs: string;
}

/**
 * The closest enclosing zone of `name` (which may itself be the apex).
 * A name that is a CNAME is never an apex (RFC 1034 3.6.2: a CNAME has no other data), so a SOA
 * "found" through a CNAME followed by a recursive resolver is not taken for the name's own.
 */
export async function findZone(name: string, resolver: DnsLookup, signal: AbortSignal): Promise<ZoneInfo> {
  const labels = normalizeDnsName(name)
    .split('.')
    .filter((l) => l !== '');
  if (labels.length === 0) throw new PluginError('cannot find the zone of an empty name');
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join('.');
    let soa;
    try {
      soa = await resolver.soa(candidate, signal);
    } catch (error) {
      // c-ares answers EBADRESP when the answer holds a CNAME and no SOA: the name is an alias.
      if (error instanceof DnsLookupError && error.code === 'EBADRESP' && (await resolver.cname(candidate, signal))) {
        continue;
      }
      throw new PluginError(`cannot find the DNS zone of ${name}: ${(error as Error).message}`, {
        cause: error,
        hint: 'give the zone explicitly, or point --dns-resolver at a resolver that can answer',
      });
    }
    if (soa === undefined) continue;
    if ((await resolver.cname(candidate, signal)) !== undefined) continue;
    return { zone: candidate, primaryNs: normalizeDnsName(soa.nsname) };
  }
  throw new PluginError(`no DNS zone found for ${name} (no SOA at any of its parents via ${resolver.describe()})`, {
    hint: 'check that the domain is delegated, or give the zone explicitly',
  });
}
