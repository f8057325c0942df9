/**
 * `-d` values → ACME identifiers: comma-separated lists, IDNs to punycode, case and trailing dot
 * normalised, IPv4/IPv6 (RFC 8738) recognised, and every malformed name refused with its reason.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { UsageError } from '../errors.js';
import type { Identifier } from '../acme/types.js';
import { canonicalIp } from '../crypto/ip-address.js';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function refuse(input: string, why: string): never {
  throw new UsageError(`invalid domain ${JSON.stringify(input)} for -d: ${why}`);
}

/** One name or address as the user typed it. */
export function parseIdentifier(input: string): Identifier {
  const raw = input.trim();
  if (raw === '') refuse(input, 'it is empty');
  const unbracketed = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (isIP(unbracketed) !== 0) {
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
    refuse(input, wildcard ? 'only one wildcard label is allowed, and only first ("*.example.com")' : 'a wildcard must be the whole first label ("*.example.com")');
  }
  if (isIP(name) !== 0) refuse(input, 'a wildcard cannot cover an IP address');
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
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) refuse(input, 'the last label is numeric (not a domain name nor a valid IP address)');
  const value = wildcard ? `*.${name}` : name;
  if (name.length > 253) refuse(input, `it is ${name.length} characters long; a domain name has at most 253`);
  return { type: 'dns', value };
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
