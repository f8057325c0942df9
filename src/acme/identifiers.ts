/**
 * The CA's answers held against what was ordered. An order, its authorizations and the issued
 * certificate must name exactly the ordered identifiers; from then on acmecli uses its own
 * spelling of each name, so nothing the CA wrote reaches a plugin, a hook or a DNS update.
 *
 * Comparison keys: dns names case-folded in ASCII only and without one trailing dot (the
 * normalisation `-d` applies), IP addresses in canonical text (RFC 5952). Full Unicode
 * case-folding would make "\u212Aey.example" (KELVIN SIGN) equal "key.example".
 */
import { AcmecliError, ExitCode } from '../errors.js';
import { canonicalIp } from '../crypto/ip-address.js';
import type { Authorization, Identifier } from './types.js';

/**
 * The CA's answer names something that was not ordered, or leaves out something that was: a CA
 * verdict (exit 3) that no retry changes. Nothing was presented or written because of it.
 */
export class OrderMismatchError extends AcmecliError {
  constructor(message: string) {
    super(message, ExitCode.caRejected);
  }
}

/** An ordered identifier as acmecli wrote it, split as an authorization names it (RFC 8555 §7.1.4). */
export interface OrderedIdentifier {
  /** `example.com` for `*.example.com`. */
  base: Identifier;
  wildcard: boolean;
  /** As ordered: `*.example.com`. */
  name: string;
}

function foldAscii(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * The comparison key of an identifier (`*.x` for a wildcard), or undefined for no valid one.
 * `exact` keeps a trailing dot significant: a certificate must hold the names themselves.
 */
export function identifierKey(type: unknown, value: unknown, exact = false): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (type === 'ip') {
    const ip = canonicalIp(value);
    return ip === undefined ? undefined : `ip:${ip}`;
  }
  if (type !== 'dns') return undefined;
  const name = foldAscii(!exact && value.endsWith('.') ? value.slice(0, -1) : value);
  return name === '' ? undefined : `dns:${name}`;
}

/** The key of an authorization's identifier: base name plus `wildcard`, never `*.` in the value. */
function authorizationKey(authorization: Authorization): string | undefined {
  const { identifier } = authorization;
  if (typeof identifier !== 'object' || identifier === null) return undefined;
  const wildcard = authorization.wildcard === true;
  // RFC 8555 §7.1.4: the value never carries the wildcard label; the flag says it.
  if (typeof identifier.value !== 'string' || identifier.value.includes('*')) return undefined;
  if (wildcard && identifier.type !== 'dns') return undefined;
  const key = identifierKey(identifier.type, identifier.value);
  return key === undefined || !wildcard ? key : `dns:*.${key.slice('dns:'.length)}`;
}

/** A value the CA sent, as one line of text: JSON escapes for control characters and quotes. */
export function oneLine(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value).slice(1, -1) : String(value);
}

/** How an authorization names itself, for messages: quoted, one line, whatever the CA sent. */
function describeAuthorization(authorization: Authorization): string {
  const value = oneLine(authorization.identifier?.value);
  return `"${authorization.wildcard === true ? `*.${value}` : value}"`;
}

function listNames(names: readonly string[]): string {
  return names.length === 0 ? 'no name' : names.join(', ');
}

/** The ordered identifiers by comparison key, with acmecli's own spelling of each. */
export class OrderedIdentifiers {
  private readonly byKey = new Map<string, OrderedIdentifier>();

  constructor(identifiers: readonly Identifier[]) {
    for (const identifier of identifiers) {
      const wildcard = identifier.type === 'dns' && identifier.value.startsWith('*.');
      const base: Identifier = wildcard ? { type: 'dns', value: identifier.value.slice(2) } : identifier;
      const key = identifierKey(identifier.type, identifier.value);
      if (key !== undefined) this.byKey.set(key, { base, wildcard, name: identifier.value });
    }
  }

  get names(): string[] {
    return [...this.byKey.values()].map((entry) => entry.name);
  }

  /** The ordered identifier `authorization` (from `url`) is for, or OrderMismatchError. */
  bind(authorization: Authorization, url: string): OrderedIdentifier {
    const key = authorizationKey(authorization);
    const ordered = key === undefined ? undefined : this.byKey.get(key);
    if (ordered === undefined) {
      throw new OrderMismatchError(
        `the CA's authorization ${url} is for ${describeAuthorization(authorization)}, which was not ordered (ordered: ${listNames(this.names)}); nothing was presented for it`,
      );
    }
    return ordered;
  }

  /**
   * Throws unless an order lists as many distinct authorization URLs as identifiers were ordered:
   * checked before any is fetched, so a list of a thousand costs nothing.
   */
  assertAuthorizationUrls(urls: readonly string[], orderUrl: string): void {
    const seen = new Set<string>();
    for (const url of urls) {
      if (seen.has(url))
        throw new OrderMismatchError(`the CA's order ${orderUrl} lists the authorization ${url} twice`);
      seen.add(url);
    }
    if (urls.length !== this.byKey.size) {
      const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
      throw new OrderMismatchError(
        `the CA's order ${orderUrl} lists ${count(urls.length, 'authorization')} for ${count(this.byKey.size, 'ordered name')} (${listNames(this.names)}); nothing was presented`,
      );
    }
  }

  /**
   * Throws unless `bound` (an order's authorizations, each bound to an ordered identifier) holds
   * exactly one authorization per ordered identifier. Two for one name would present it twice
   * (two hook runs, two DNS updates for one name); one left out would leave a name the CA never
   * asked to be proven. `a.example` and `*.a.example` are two: their keys differ by the wildcard.
   */
  assertOneEach(bound: ReadonlyArray<{ ordered: OrderedIdentifier }>, orderUrl: string): void {
    const counts = new Map<OrderedIdentifier, number>();
    for (const { ordered } of bound) counts.set(ordered, (counts.get(ordered) ?? 0) + 1);
    const entries = [...this.byKey.values()];
    const repeated = entries.filter((entry) => (counts.get(entry) ?? 0) > 1);
    const missing = entries.filter((entry) => !counts.has(entry));
    if (repeated.length === 0 && missing.length === 0) return;
    const faults = repeated.map((entry) => `${counts.get(entry)} authorizations for ${entry.name}`);
    if (missing.length > 0) faults.push(`none for ${listNames(missing.map((entry) => entry.name))}`);
    throw new OrderMismatchError(`the CA's order ${orderUrl} has ${faults.join(' and ')}; nothing was presented`);
  }

  /**
   * Throws unless `identifiers` (an order object's, a certificate's) name exactly the ordered
   * identifiers, as a set. `describe` turns the names found into the start of the message;
   * `exact` for a certificate, whose names are used as they are written.
   */
  assertSame(identifiers: unknown, describe: (found: string) => string, options: { exact?: boolean } = {}): void {
    const list: unknown[] = Array.isArray(identifiers) ? identifiers : [];
    const keys = list.map((entry) => {
      const identifier = typeof entry === 'object' && entry !== null ? (entry as Partial<Identifier>) : {};
      return identifierKey(identifier.type, identifier.value, options.exact);
    });
    const same =
      Array.isArray(identifiers) &&
      keys.every((key) => key !== undefined && this.byKey.has(key)) &&
      new Set(keys).size === this.byKey.size;
    if (!same) {
      const found = list.map((entry) =>
        oneLine(typeof entry === 'object' && entry !== null ? (entry as Partial<Identifier>).value : entry),
      );
      throw new OrderMismatchError(`${describe(listNames(found))}, not what was ordered (${listNames(this.names)})`);
    }
  }

  /** The ordered identifiers, once each, in the order and spelling they were ordered. */
  get identifiers(): Identifier[] {
    return [...this.byKey.values()].map((entry) => ({ type: entry.base.type, value: entry.name }));
  }
}
