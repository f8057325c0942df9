/**
 * Waits until the CA can see our TXT values, the way lego does it rather than certbot's fixed
 * sleep: ask the zone's authoritative name servers directly (no recursive cache can hide a fresh
 * record from them), every one of them, until every expected value is there, bounded by
 * `--dns-propagation-timeout`. `--dns-resolver` replaces the authoritative servers with the
 * user's; `--dns-propagation-wait` replaces the check by a plain delay; `--skip-dns-propagation-check`
 * skips it (which may cost a failed validation, never correctness of what was written).
 */
import { isIP } from 'node:net';
import { delay } from '../../acme/delay.js';
import { AbortedError, PluginError, messageOf, throwIfAborted } from '../../errors.js';
import type { Logger } from '../../output/logger.js';
import { DnsLookup, formatServerSpec, normalizeDnsName } from './lookup.js';
import type { Dns01Settings } from './settings.js';
import { findZone } from './zone.js';

export const DEFAULT_POLL_INTERVAL_MS = 1000;
/** Each poll asks once with this timeout: the next poll is the retry. */
const QUERY_TIMEOUT_MS = 1500;
/** Zones with more name server addresses than this are checked on the first ones only. */
const MAX_SERVERS = 16;

export interface WaitForTxtRecordOptions {
  /** Where the values were written (after CNAME/alias resolution). */
  recordName: string;
  values: readonly string[];
  settings: Dns01Settings;
  signal: AbortSignal;
  log: Logger;
  /**
   * For the zone, NS and address look-ups. Default: the system resolver, or `settings.resolvers`
   * when given (which are then also the servers checked).
   */
  resolver?: DnsLookup;
  /** The zone of `recordName` when the caller already knows it (skips the SOA walk). */
  zone?: string;
  /** Port of the authoritative servers; 53 unless a test bed serves the zone elsewhere. */
  authoritativePort?: number;
  pollIntervalMs?: number;
}

export interface PropagationResult {
  /** `skipped`, `waited` (fixed delay) or `checked`. */
  mode: 'skipped' | 'waited' | 'checked';
  /** The servers that were asked, as `name (address)` or the resolver spec. */
  servers: string[];
  elapsedMs: number;
  polls: number;
}

interface CheckedServer {
  label: string;
  lookup: DnsLookup;
}

/** IPv4 addresses when there are any (IPv6 reachability is not a given), else IPv6. */
async function addressesOf(host: string, resolver: DnsLookup, signal: AbortSignal): Promise<string[]> {
  if (isIP(host)) return [host];
  let addresses: string[];
  try {
    addresses = await resolver.addresses(host, signal);
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    return [];
  }
  const v4 = addresses.filter((a) => isIP(a) === 4);
  return v4.length > 0 ? v4 : addresses;
}

async function authoritativeServers(options: WaitForTxtRecordOptions, resolver: DnsLookup): Promise<CheckedServer[]> {
  const { recordName, signal, log } = options;
  const found = options.zone === undefined ? await findZone(recordName, resolver, signal) : undefined;
  const zone = found?.zone ?? options.zone ?? '';
  let nsNames: string[] = [];
  try {
    nsNames = await resolver.ns(zone, signal);
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    log.debug(`NS lookup of ${zone} failed (${messageOf(error)}); falling back to the SOA primary`);
  }
  const servers: CheckedServer[] = [];
  const seen = new Set<string>();
  const add = async (host: string): Promise<void> => {
    for (const address of await addressesOf(host, resolver, signal)) {
      if (seen.has(address) || servers.length >= MAX_SERVERS) continue;
      seen.add(address);
      servers.push({
        label: host === address ? address : `${host} (${address})`,
        lookup: new DnsLookup({
          servers: [
            formatServerSpec(address, options.authoritativePort === 53 ? undefined : options.authoritativePort),
          ],
          timeoutMs: QUERY_TIMEOUT_MS,
          tries: 1,
        }),
      });
    }
  };
  for (const ns of nsNames) await add(normalizeDnsName(ns));
  if (servers.length === 0) {
    const primary = found?.primaryNs ?? (await resolver.soa(zone, signal))?.nsname;
    if (primary !== undefined) await add(normalizeDnsName(primary));
  }
  if (servers.length === 0) {
    throw new PluginError(`cannot find the authoritative name servers of zone ${zone} to check ${recordName}`, {
      hint: 'use --dns-resolver to name servers to check, or --dns-propagation-wait for a fixed delay',
    });
  }
  return servers;
}

/**
 * Resolves once every value of `values` is a TXT record at `recordName` on every checked server;
 * PluginError naming the record, the missing values and the servers when the timeout passes.
 */
export async function waitForTxtRecord(options: WaitForTxtRecordOptions): Promise<PropagationResult> {
  const { recordName, values, settings, signal, log } = options;
  const started = Date.now();
  throwIfAborted(signal);
  if (settings.skipPropagationCheck) {
    log.debug(`not checking DNS propagation of ${recordName} (--skip-dns-propagation-check)`);
    return { mode: 'skipped', servers: [], elapsedMs: 0, polls: 0 };
  }
  if (settings.propagationWaitMs !== undefined) {
    log.info(`waiting ${settings.propagationWaitMs / 1000} s for DNS propagation of ${recordName}`);
    await delay(settings.propagationWaitMs, signal);
    return { mode: 'waited', servers: [], elapsedMs: Date.now() - started, polls: 0 };
  }

  const deadline = started + settings.propagationTimeoutMs;
  const resolvers = settings.resolvers ?? [];
  const servers: CheckedServer[] =
    resolvers.length > 0
      ? resolvers.map((spec) => ({
          label: spec,
          lookup: new DnsLookup({ servers: [spec], timeoutMs: QUERY_TIMEOUT_MS, tries: 1 }),
        }))
      : await authoritativeServers(options, options.resolver ?? new DnsLookup());
  const labels = servers.map((s) => s.label);
  log.debug(`checking TXT ${recordName} on ${labels.join(', ')}`);

  const interval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  let polls = 0;
  for (;;) {
    polls++;
    const results = await Promise.all(
      servers.map(async (server) => {
        try {
          const seen = await server.lookup.txt(recordName, signal);
          return { server, missing: values.filter((v) => !seen.includes(v)), error: undefined };
        } catch (error) {
          if (error instanceof AbortedError) throw error;
          return { server, missing: [...values], error: (error as { code?: string }).code ?? messageOf(error) };
        }
      }),
    );
    const pending = results.filter((r) => r.missing.length > 0);
    if (pending.length === 0) {
      const elapsedMs = Date.now() - started;
      log.debug(`TXT ${recordName} visible on ${labels.join(', ')} after ${elapsedMs} ms`);
      return { mode: 'checked', servers: labels, elapsedMs, polls };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const details = pending
        .map((r) => {
          const missing = r.missing.map((v) => `"${v}"`).join(', ');
          return `${missing} on ${r.server.label}${r.error ? ` (last error ${r.error})` : ''}`;
        })
        .join('; ');
      throw new PluginError(
        `DNS propagation check gave up after ${Math.round((Date.now() - started) / 1000)} s: TXT ${recordName} is still missing ${details}`,
        { hint: 'raise --dns-propagation-timeout, or use --dns-propagation-wait / --dns-resolver' },
      );
    }
    await delay(Math.min(interval, remaining), signal);
  }
}
