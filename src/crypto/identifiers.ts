/**
 * `-d` values → ACME identifiers: comma-separated lists, IDNs to punycode, case and trailing dot
 * normalised, IPv4/IPv6 (RFC 8738) recognised, and every malformed name refused with its reason.
 * The one copy of these rules: names read back from renewal.json are checked with them too.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { UsageError } from '../errors.js';
import { canonicalIp } from './ip-address.js';

export type IdentifierType = 'dns' | 'ip';
export interface Identifier {
  type: IdentifierType;
  value: string;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * A name already in the form parseIdentifier returns, as renewal.json holds it: the labels above,
 * the last not numeric, an optional leading wildcard label. One expression for what the steps
 * below check one by one at 20,000 instructions a name in the binaries' interpreter-only V8,
 * which `renew` pays for every stored name.
 */
const CANONICAL_NAME =
  /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*(?!\d+$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Refuses a `-d` value: a UsageError naming the value and the flag. */
function refuseFlagValue(input: string, why: string): never {
  throw new UsageError(`invalid domain ${JSON.stringify(input)} for -d: ${why}`);
}

/**
 * One name or address as the user typed it. `refuse` is called with the reason when it is not
 * valid (a file's reader names the file and field instead of `-d`).
 */
export function parseIdentifier(
  input: string,
  refuse: (input: string, why: string) => never = refuseFlagValue,
): Identifier {
  if (CANONICAL_NAME.test(input) && input.length <= (input.startsWith('*.') ? 255 : 253))
    return { type: 'dns', value: input };
  const raw = input.trim();
  if (raw === '') refuse(input, 'it is empty');
  const unbracketed = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (mayBeIp(unbracketed) && isIP(unbracketed) !== 0) {
    return { type: 'ip', value: canonicalIp(unbracketed) ?? unbracketed };
  }
  if (/\s/.test(raw)) refuse(input, 'it contains white space');
  let name = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  if (name.endsWith('.')) refuse(input, 'it ends with two dots');
  let wildcard = false;
  if (name.startsWith('*.')) {
    wildcard = true;
    name = name.slice(2);
  }
  if (name.includes('*')) {
    refuse(
      input,
      wildcard
        ? 'only one wildcard label is allowed, and only first ("*.example.com")'
        : 'a wildcard must be the whole first label ("*.example.com")',
    );
  }
  if (mayBeIp(name) && isIP(name) !== 0) refuse(input, 'a wildcard cannot cover an IP address');
  if (/[^\x00-\x7f]/.test(name) || /[A-Z]/.test(name)) {
    const ascii = domainToASCII(name);
    if (ascii === '') refuse(input, 'it is not a valid internationalised domain name');
    name = ascii;
  }
  name = name.toLowerCase();
  if (name === '') refuse(input, 'it has no name after the wildcard');
  const labels = name.split('.');
  for (const label of labels) {
    if (label === '') refuse(input, 'it has an empty label (two dots in a row, or a leading dot)');
    if (label.length > 63) refuse(input, `the label "${label.slice(0, 20)}…" is longer than 63 characters`);
    if (!LABEL.test(label)) {
      refuse(input, `the label "${label}" may only hold letters, digits and inner hyphens`);
    }
  }
  if (/^\d+$/.test(labels[labels.length - 1] ?? ''))
    refuse(input, 'the last label is numeric (not a domain name nor a valid IP address)');
  const value = wildcard ? `*.${name}` : name;
  if (name.length > 253) refuse(input, `it is ${name.length} characters long; a domain name has at most 253`);
  return { type: 'dns', value };
}

/**
 * False for what isIP would refuse anyway (an IPv6 address has a colon, an IPv4 one only digits
 * and dots): isIP's regular expressions were a sixth of `renew` over a thousand lineages in the
 * binaries' interpreter-only V8, where every stored name is checked again.
 */
function mayBeIp(text: string): boolean {
  return text.includes(':') || /^[0-9.]+$/.test(text);
}

/** All `-d` values: repeatable and comma-separated; duplicates dropped, order kept. */
export function parseIdentifiers(values: readonly string[]): Identifier[] {
  const result: Identifier[] = [];
  const seen = new Set<string>();
  for (const value of values) {
    const parts = value.split(',');
    for (const part of parts) {
      if (part.trim() === '' && parts.length > 1) continue;
      const identifier = parseIdentifier(part);
      const key = `${identifier.type}:${identifier.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      result.push(identifier);
    }
  }
  return result;
}

export function identifierLabel(identifier: Identifier): string {
  return identifier.value;
}
