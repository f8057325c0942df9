/**
 * What the command line needs to know about the nsupdate plugin without loading it: its name,
 * challenge types and options. Kept apart from the implementation so `acmecli --help` stays fast.
 */
import type { PluginSpec } from '../../src/challenges/plugin.js';

export const NSUPDATE_KEY_ENV = 'ACMECLI_NSUPDATE_KEY';
export const DEFAULT_NSUPDATE_TTL = 60;
export const DEFAULT_NSUPDATE_TIMEOUT_SECONDS = 20;

export const nsupdateSpec: PluginSpec = {
  name: 'nsupdate',
  summary: 'dns-01 through RFC 2136 dynamic DNS updates with a TSIG key (BIND, Knot, PowerDNS, Windows DNS)',
  challengeTypes: ['dns-01'],
  options: [
    {
      flags: '--nsupdate-server <host[:port]>',
      description: 'DNS server that accepts the updates (port 53 unless given; IPv6 as [addr]:port)',
      env: 'ACMECLI_NSUPDATE_SERVER',
    },
    {
      flags: '--nsupdate-key-file <file>',
      description: 'BIND key file with the TSIG key (tsig-keygen output); stored for renewals by path',
      env: 'ACMECLI_NSUPDATE_KEY_FILE',
    },
    {
      flags: '--nsupdate-key <[alg:]name:secret>',
      description: `TSIG key inline, nsupdate -y form (algorithm defaults to hmac-sha256); command lines are visible to other users, so prefer ${NSUPDATE_KEY_ENV} or a key file; never stored: renewals read ${NSUPDATE_KEY_ENV}`,
      env: NSUPDATE_KEY_ENV,
      secret: true,
    },
    {
      flags: '--nsupdate-key-name <name>',
      description: 'which key of --nsupdate-key-file to use when it holds several',
      env: 'ACMECLI_NSUPDATE_KEY_NAME',
    },
    {
      flags: '--nsupdate-zone <zone>',
      description: 'zone to update (default: found through SOA look-ups)',
      env: 'ACMECLI_NSUPDATE_ZONE',
    },
    {
      flags: '--nsupdate-ttl <seconds>',
      description: `TTL of the TXT records (default ${DEFAULT_NSUPDATE_TTL})`,
      env: 'ACMECLI_NSUPDATE_TTL',
    },
    {
      flags: '--nsupdate-timeout <seconds>',
      description: `time limit of each update, UDP retries and TCP fallback included (default ${DEFAULT_NSUPDATE_TIMEOUT_SECONDS})`,
      env: 'ACMECLI_NSUPDATE_TIMEOUT',
    },
  ],
};
