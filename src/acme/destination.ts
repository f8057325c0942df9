/**
 * Where the CA may send acmecli. The CA names every URL after the directory (nonce, account,
 * order, authorization, challenge, finalize, certificate, alternates), and acmecli POSTs signed
 * requests to them as root, from inside the server's network: the one place a hostile CA could
 * not otherwise reach. Link-local addresses are where cloud metadata services answer with the
 * machine's credentials (169.254.169.254 on AWS, GCP, Azure, OCI; 169.254.170.2 for ECS tasks),
 * and no public CA has a reason to live there, so a CA-named URL on such a host is refused.
 *
 * The rule: a destination is refused when its host is, or resolves to, a link-local address
 * (169.254.0.0/16, fe80::/10), a known cloud metadata address or name, or the unspecified
 * address (0.0.0.0/8, ::, which Linux connects to the local machine), also when spelled as an
 * IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) IPv6 address; unless the host is the
 * one the user named: the ACME directory's, since a private CA may really sit there. The address
 * is checked when the connection is made (the `lookup` hook), so a name that resolved elsewhere a
 * moment earlier cannot rebind past the check. Through a proxy, the proxy resolves names: only the
 * host as written is checked then. Plain http:// stays for loopback only, and now for the address
 * the name resolves to, not only for the name.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Names that reach a metadata service without DNS help (the proxy case, where a proxy resolves). */
const METADATA_NAMES = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

const METADATA_ADDRESSES = new BlockList();
METADATA_ADDRESSES.addAddress('169.254.169.254', 'ipv4'); // AWS, GCP, Azure, OCI, DigitalOcean
METADATA_ADDRESSES.addAddress('169.254.170.2', 'ipv4'); // AWS ECS task credentials
METADATA_ADDRESSES.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud
METADATA_ADDRESSES.addAddress('fd00:ec2::254', 'ipv6'); // AWS IMDS over IPv6
METADATA_ADDRESSES.addAddress('fd20:ce::254', 'ipv6'); // GCP metadata over IPv6

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');
// NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
LINK_LOCAL.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6');

const UNSPECIFIED = new BlockList();
UNSPECIFIED.addSubnet('0.0.0.0', 8, 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** A host name as URL.hostname spells it, without IPv6 brackets or a trailing root dot. */
function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

function familyOf(address: string): 'ipv4' | 'ipv6' | undefined {
  const family = isIP(address);
  return family === 4 ? 'ipv4' : family === 6 ? 'ipv6' : undefined;
}

/**
 * Why acmecli will not connect to this address or host name, or undefined when it may.
 * BlockList matches IPv4 rules against IPv4-mapped IPv6 addresses as well.
 */
export function forbiddenDestination(host: string): string | undefined {
  const bare = bareHost(host);
  const family = familyOf(bare);
  if (family === undefined) return METADATA_NAMES.has(bare) ? 'a cloud metadata host name' : undefined;
  if (METADATA_ADDRESSES.check(bare, family)) return 'a cloud metadata address';
  if (LINK_LOCAL.check(bare, family)) return 'a link-local address';
  if (UNSPECIFIED.check(bare, family)) return 'the unspecified address';
  return undefined;
}

export function isLoopbackAddress(address: string): boolean {
  const family = familyOf(address);
  return family !== undefined && LOOPBACK.check(address, family);
}

/** Whether `host` is the one the user named, which may be anywhere. */
export function isUserHost(host: string, userHost: string | undefined): boolean {
  return userHost !== undefined && bareHost(host) === bareHost(userHost);
}

/**
 * Wraps `resolve` so that the addresses a name resolves to pass the rule before Node connects to
 * any of them. Every address must pass: with several, which one is tried first is not ours to
 * choose (happy eyeballs), and a hostile resolver would put the bad one there.
 */
export function checkedLookup(
  resolve: LookupFunction,
  rule: { userHost: string | undefined; loopbackOnly: boolean },
  refuse: (hostname: string, address: string, reason: string) => Error,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address.map((entry) => entry.address) : [address];
      for (const each of addresses) {
        const reason = rule.loopbackOnly
          ? isLoopbackAddress(each)
            ? undefined
            : 'not a loopback address (plain http:// is for loopback only)'
          : isUserHost(hostname, rule.userHost)
            ? undefined
            : forbiddenDestination(each);
        if (reason !== undefined) return callback(refuse(hostname, each, reason), '', 0);
      }
      callback(null, address, family);
    });
  };
}
