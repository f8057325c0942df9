/**
 * IP identifier text ⇄ bytes (RFC 8738). Validation is node:net's; the canonical IPv6 text is the
 * WHATWG URL serialisation, which is RFC 5952's compressed lowercase form, so identifiers read
 * from a CSR, a certificate or the command line compare equal as strings.
 */
import { isIP } from 'node:net';

/** Canonical text of an IP address, or undefined when `text` is not one (zone ids refused). */
export function canonicalIp(text: string): string | undefined {
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6 || text.includes('%')) return undefined;
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/** 4 or 16 network-order bytes of a valid address. */
export function ipToBytes(text: string): Buffer {
  const canonical = canonicalIp(text);
  if (canonical === undefined) throw new Error(`"${text}" is not an IP address`);
  if (isIP(canonical) === 4) return Buffer.from(canonical.split('.').map(Number));
  // The canonical form never embeds an IPv4 tail, so only '::' needs expanding.
  const [head = '', tail] = canonical.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const bytes = Buffer.alloc(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((group, index) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  });
  return bytes;
}

/** Canonical text of a 4 or 16 byte address; undefined for other lengths (name constraints). */
export function ipFromBytes(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return undefined;
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push((((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0)).toString(16));
  }
  return canonicalIp(groups.join(':'));
}
