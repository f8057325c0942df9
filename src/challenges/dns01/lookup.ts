/**
 * DNS lookups for dns-01 plugins: a thin layer over node:dns `Resolver` that adds what the plugins
 * need and node:dns leaves to callers: chosen servers (`host[:port]`, `[v6]:port`), bounded
 * timeouts, AbortSignal (→ `resolver.cancel()`), "no such record" as an empty result rather than an
 * error, and errors that say which name, type and servers failed.
 *
 * Every call uses a fresh `Resolver`: cancelling one call cannot cancel another, and nothing is
 * cached between polls (a propagation check must see the server's current answer).
 */
import type { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AbortedError, PluginError, UsageError, messageOf, throwIfAborted } from '../../errors.js';

/** node:dns on first use: only dns-01 runs need it, and loading it costs every other run memory. */
export function dnsPromises(): typeof import('node:dns/promises') {
  return process.getBuiltinModule('node:dns/promises');
}

/** Lowercase, without the trailing dot: how dns-01 names are compared (RFC 4343). */
export function normalizeDnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export const DEFAULT_LOOKUP_TIMEOUT_MS = 2000;
export const DEFAULT_LOOKUP_TRIES = 2;

/** A lookup failed for another reason than "no such name/record" (timeout, SERVFAIL, REFUSED...). */
export class DnsLookupError extends PluginError {
  constructor(
    message: string,
    /** The node:dns / c-ares code: ETIMEOUT, ESERVFAIL, EREFUSED, ECONNREFUSED, EBADRESP... */
    readonly code: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options);
  }
}

export interface SoaAnswer {
  /** Primary name server (MNAME). */
  nsname: string;
  hostmaster: string;
  serial: number;
  minttl: number;
}

export interface DnsLookupOptions {
  /** `host[:port]`, `[v6addr]:port` or a bare IPv6 address. Empty: the system's resolvers. */
  servers?: readonly string[];
  /** Per try (c-ares doubles it on each retry). */
  timeoutMs?: number;
  tries?: number;
}

interface ParsedServer {
  host: string;
  port?: number;
}

/** `host`, `host:port`, `[v6]`, `[v6]:port`, `v6` → parts; UsageError naming the spec otherwise. */
export function parseServerSpec(spec: string, flag = '--dns-resolver'): ParsedServer {
  const text = spec.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2];
    if (isIP(host) !== 6) throw new UsageError(`${flag} "${spec}": brackets must hold an IPv6 address`);
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host.includes(':'))
        throw new UsageError(`${flag} "${spec}": write IPv6 addresses with a port as [addr]:port`);
    } else {
      host = text;
    }
  }
  if (host === '' || /[\s/]/.test(host)) throw new UsageError(`${flag} "${spec}" is not a host[:port]`);
  if (portText === undefined) return { host };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError(`${flag} "${spec}": port must be 1-65535`);
  }
  return { host, port };
}

/** `address`, `address:port` or `[v6]:port`, as node:dns `setServers` and `--dns-resolver` take it. */
export function formatServerSpec(address: string, port: number | undefined): string {
  if (port === undefined) return address;
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

const NO_DATA_CODES = new Set(['ENODATA', 'ENOTFOUND']);

export class DnsLookup {
  readonly servers: readonly string[];
  readonly timeoutMs: number;
  readonly tries: number;
  #resolved: Promise<string[]> | undefined;

  constructor(options: DnsLookupOptions = {}) {
    this.servers = [...(options.servers ?? [])];
    // Parse now so a bad --dns-resolver fails at start-up, not at the first lookup.
    for (const server of this.servers) parseServerSpec(server);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS;
    this.tries = options.tries ?? DEFAULT_LOOKUP_TRIES;
  }

  /** Same timeouts, other servers (e.g. one authoritative server at a time). */
  withServers(servers: readonly string[]): DnsLookup {
    return new DnsLookup({ servers, timeoutMs: this.timeoutMs, tries: this.tries });
  }

  /** `system resolvers` or the servers joined, for messages. */
  describe(): string {
    return this.servers.length === 0 ? 'the system resolver' : this.servers.join(', ');
  }

  /** node:dns takes IP addresses only; host names given as servers are resolved once. */
  #serverList(): Promise<string[]> {
    this.#resolved ??= Promise.all(
      this.servers.map(async (spec) => {
        const { host, port } = parseServerSpec(spec);
        if (isIP(host)) return formatServerSpec(host, port);
        try {
          const { address } = await dnsPromises().lookup(host);
          return formatServerSpec(address, port);
        } catch (error) {
          throw new DnsLookupError(`cannot resolve DNS server name ${host} (${messageOf(error)})`, 'ENOTFOUND', {
            cause: error,
          });
        }
      }),
    );
    return this.#resolved;
  }

  async #run<T>(
    name: string,
    type: string,
    signal: AbortSignal,
    query: (resolver: Resolver) => Promise<T>,
    empty: T,
  ): Promise<T> {
    throwIfAborted(signal);
    const resolver = new (dnsPromises().Resolver)({ timeout: this.timeoutMs, tries: this.tries });
    const servers = await this.#serverList();
    if (servers.length > 0) resolver.setServers(servers);
    const onAbort = (): void => resolver.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await query(resolver);
    } catch (error) {
      if (signal.aborted) throw new AbortedError('cancelled', { cause: signal.reason });
      const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
      if (NO_DATA_CODES.has(code)) return empty;
      throw new DnsLookupError(`DNS ${type} lookup of ${name} via ${this.describe()} failed (${code})`, code, {
        cause: error,
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** The SOA at exactly `name`, or undefined (NXDOMAIN / NODATA). */
  soa(name: string, signal: AbortSignal): Promise<SoaAnswer | undefined> {
    return this.#run<SoaAnswer | undefined>(name, 'SOA', signal, (r) => r.resolveSoa(name), undefined);
  }

  /** The CNAME target at `name` (no trailing dot), or undefined. */
  async cname(name: string, signal: AbortSignal): Promise<string | undefined> {
    const targets = await this.#run(name, 'CNAME', signal, (r) => r.resolveCname(name), [] as string[]);
    return targets[0];
  }

  ns(name: string, signal: AbortSignal): Promise<string[]> {
    return this.#run(name, 'NS', signal, (r) => r.resolveNs(name), [] as string[]);
  }

  /** Every TXT record at `name`, each one's character-strings joined (RFC 8555 8.4 compares these). */
  async txt(name: string, signal: AbortSignal): Promise<string[]> {
    const records = await this.#run(name, 'TXT', signal, (r) => r.resolveTxt(name), [] as string[][]);
    return records.map((chunks) => chunks.join(''));
  }

  /** IPv4 then IPv6 addresses of `host`; a failure of one family is tolerated if the other answers. */
  async addresses(host: string, signal: AbortSignal): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([
      this.#run(host, 'A', signal, (r) => r.resolve4(host), [] as string[]),
      this.#run(host, 'AAAA', signal, (r) => r.resolve6(host), [] as string[]),
    ]);
    if (signal.aborted) throw new AbortedError('cancelled', { cause: signal.reason });
    if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
    return [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  }
}
