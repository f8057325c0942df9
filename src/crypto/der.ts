/**
 * The project's one ASN.1 layer: a DER reader (CSRs from users, the fields of certificates that
 * node:crypto does not expose) and a DER writer (the CSR sent at finalize, tls-alpn-01
 * certificates). Only what X.509 and PKCS#10 need: low tag numbers, definite lengths. A general
 * ASN.1 library costs tens of milliseconds and megabytes to load in every `issue`.
 */

export interface DerElement {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export const DER_BOOLEAN = 0x01;
export const DER_INTEGER = 0x02;
export const DER_BIT_STRING = 0x03;
export const DER_OCTET_STRING = 0x04;
export const DER_NULL = 0x05;
export const DER_OID = 0x06;
export const DER_UTF8_STRING = 0x0c;
export const DER_PRINTABLE_STRING = 0x13;
export const DER_TELETEX_STRING = 0x14;
export const DER_IA5_STRING = 0x16;
export const DER_UTC_TIME = 0x17;
export const DER_GENERALIZED_TIME = 0x18;
export const DER_VISIBLE_STRING = 0x1a;
export const DER_BMP_STRING = 0x1e;
export const DER_SEQUENCE = 0x30;
export const DER_SET = 0x31;

const CONSTRUCTED = 0x20;
const CONTEXT_SPECIFIC = 0x80;

// ---------------------------------------------------------------------------------------------
// Reading. Every function throws a plain Error on malformed input; callers turn it into the
// error that names their input.

/** Reads the element at `offset`; only low tag numbers (all X.509 needs). Throws on truncation. */
export function readDerElement(der: Uint8Array, offset: number): DerElement {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) {
    throw new Error('truncated or unsupported DER element');
  }
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    // Indefinite lengths are BER, not DER; 4 bytes of length is far beyond any certificate.
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let index = 0; index < count; index += 1) {
      const byte = der[contentStart + index];
      if (byte === undefined) throw new Error('truncated DER length');
      length = length * 256 + byte;
    }
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error('truncated DER element');
  return { tag, start: offset, contentStart, end };
}

/** The single element `der` consists of; trailing bytes are an error (DER has one encoding). */
export function readDerDocument(der: Uint8Array): DerElement {
  const element = readDerElement(der, 0);
  if (element.end !== der.length) throw new Error('trailing bytes after the DER element');
  return element;
}

/** The element's complete encoding (tag, length and content). */
export function derElementBytes(der: Uint8Array, element: DerElement): Buffer {
  return Buffer.from(der.subarray(element.start, element.end));
}

/** The element's content bytes. */
export function derElementContent(der: Uint8Array, element: DerElement): Buffer {
  return Buffer.from(der.subarray(element.contentStart, element.end));
}

/** First child of a constructed element, checking the expected tags on the way. */
export function derFirstChild(der: Uint8Array, parent: DerElement): DerElement {
  if ((parent.tag & CONSTRUCTED) === 0) throw new Error('DER element is not constructed');
  return readDerElement(der, parent.contentStart);
}

/** All children of a constructed element; a child running past its parent is an error. */
export function derChildren(der: Uint8Array, parent: DerElement): DerElement[] {
  if ((parent.tag & CONSTRUCTED) === 0) throw new Error('DER element is not constructed');
  const result: DerElement[] = [];
  for (let offset = parent.contentStart; offset < parent.end;) {
    const element = readDerElement(der, offset);
    if (element.end > parent.end) throw new Error('DER element overruns its parent');
    result.push(element);
    offset = element.end;
  }
  return result;
}

export function expectTag(element: DerElement, tag: number): DerElement {
  if (element.tag !== tag) throw new Error(`unexpected DER tag 0x${element.tag.toString(16)}`);
  return element;
}

/** Dotted text of an OBJECT IDENTIFIER element ("1.2.840.10045.4.3.2"). */
export function readDerOid(der: Uint8Array, element: DerElement): string {
  return decodeDerOid(derElementContent(der, expectTag(element, DER_OID)));
}

/** Dotted text of OBJECT IDENTIFIER content bytes (also under an IMPLICIT tag: registeredID). */
export function decodeDerOid(content: Uint8Array): string {
  // The last byte must end a subidentifier, and a subidentifier never starts with 0x80 (DER).
  if (content.length === 0 || ((content.at(-1) ?? 0) & 0x80) !== 0) {
    throw new Error('malformed OBJECT IDENTIFIER');
  }
  const arcs: bigint[] = [];
  let arc = 0n;
  let startsArc = true;
  for (const byte of content) {
    if (startsArc && byte === 0x80) throw new Error('malformed OBJECT IDENTIFIER');
    arc = (arc << 7n) | BigInt(byte & 0x7f);
    startsArc = (byte & 0x80) === 0;
    if (startsArc) {
      arcs.push(arc);
      arc = 0n;
    }
  }
  // The first subidentifier packs two arcs: 40 * first + second, with first in 0..2.
  const [packed = 0n, ...rest] = arcs;
  const first = packed < 40n ? 0n : packed < 80n ? 1n : 2n;
  return [first, packed - first * 40n, ...rest].join('.');
}

/** Content of a BIT STRING that holds whole bytes (keys, signatures): no unused bits. */
export function readDerBitStringBytes(der: Uint8Array, element: DerElement): Buffer {
  const content = derElementContent(der, expectTag(element, DER_BIT_STRING));
  if (content[0] !== 0) throw new Error('BIT STRING with unused bits');
  return content.subarray(1);
}

/** A non-negative INTEGER that fits a JavaScript number (versions, salt lengths). */
export function readDerSmallInteger(der: Uint8Array, element: DerElement): number {
  const content = derElementContent(der, expectTag(element, DER_INTEGER));
  if (content.length === 0 || content.length > 6 || ((content[0] ?? 0) & 0x80) !== 0) {
    throw new Error('INTEGER out of range');
  }
  return content.readUIntBE(0, content.length);
}

/** The text of a directory string (CN and friends); undefined for a non-string element. */
export function readDerString(der: Uint8Array, element: DerElement): string | undefined {
  const content = derElementContent(der, element);
  switch (element.tag) {
    case DER_UTF8_STRING:
      return content.toString('utf8');
    case DER_PRINTABLE_STRING:
    case DER_IA5_STRING:
    case DER_VISIBLE_STRING:
    case DER_TELETEX_STRING:
      return content.toString('latin1');
    case DER_BMP_STRING: {
      if (content.length % 2 !== 0) return undefined;
      // UTF-16 big-endian; node decodes little-endian only.
      return Buffer.from(content).swap16().toString('utf16le');
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing. Each function returns one complete element (tag, length, content).

/** Definite length, short form below 128, else long form with the fewest bytes. */
function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derEncode(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function derSequence(...elements: readonly Uint8Array[]): Buffer {
  return derEncode(DER_SEQUENCE, Buffer.concat(elements));
}

/** SET OF: DER orders the elements by their encodings (X.690 11.6). */
export function derSet(...elements: readonly Uint8Array[]): Buffer {
  const sorted = [...elements].sort((a, b) => Buffer.compare(a, b));
  return derEncode(DER_SET, Buffer.concat(sorted));
}

/**
 * A non-negative INTEGER from a number or from big-endian magnitude bytes (a serial number):
 * leading zero bytes dropped, one 00 added back when the top bit would read as a sign.
 */
export function derInteger(value: number | Uint8Array): Buffer {
  let magnitude: Buffer;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a DER INTEGER`);
    const bytes: number[] = [];
    for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    magnitude = Buffer.from(bytes);
  } else {
    const firstNonZero = value.findIndex((byte) => byte !== 0);
    magnitude = Buffer.from(firstNonZero === -1 ? [] : value.subarray(firstNonZero));
  }
  const needsSignByte = magnitude.length === 0 || ((magnitude[0] ?? 0) & 0x80) !== 0;
  return derEncode(DER_INTEGER, needsSignByte ? Buffer.concat([Buffer.from([0]), magnitude]) : magnitude);
}

export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = -1, second = -1, ...rest] = arcs;
  const valid =
    /^\d+(\.\d+)+$/.test(dotted) && arcs.every(Number.isSafeInteger) && first <= 2 && (first === 2 || second < 40);
  if (!valid) throw new RangeError(`"${dotted}" is not an OBJECT IDENTIFIER`);
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    // Base 128, most significant group first, every byte but the last with its top bit set.
    const groups = [arc % 128];
    for (let high = Math.floor(arc / 128); high > 0; high = Math.floor(high / 128)) {
      groups.unshift(0x80 | (high % 128));
    }
    bytes.push(...groups);
  }
  return derEncode(DER_OID, Buffer.from(bytes));
}

export function derOctetString(bytes: Uint8Array): Buffer {
  return derEncode(DER_OCTET_STRING, bytes);
}

/** A BIT STRING of whole bytes (keys, signatures): the unused-bits count is 0. */
export function derBitString(bytes: Uint8Array): Buffer {
  return derEncode(DER_BIT_STRING, Buffer.concat([Buffer.from([0]), bytes]));
}

export function derUtf8String(text: string): Buffer {
  return derEncode(DER_UTF8_STRING, Buffer.from(text, 'utf8'));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function derPrintableString(text: string): Buffer {
  if (!PRINTABLE.test(text)) throw new RangeError(`"${text}" is not a PrintableString`);
  return derEncode(DER_PRINTABLE_STRING, Buffer.from(text, 'latin1'));
}

export function derNull(): Buffer {
  return Buffer.from([DER_NULL, 0]);
}

export function derBoolean(value: boolean): Buffer {
  return Buffer.from([DER_BOOLEAN, 1, value ? 0xff : 0x00]);
}

/** [number] EXPLICIT: a constructed context tag around the complete inner element. */
export function derExplicit(tagNumber: number, inner: Uint8Array): Buffer {
  return derEncode(CONTEXT_SPECIFIC | CONSTRUCTED | lowTagNumber(tagNumber), inner);
}

/**
 * [number] IMPLICIT: the context tag replaces the element's own; `constructed` when the
 * replaced type is (SET, SEQUENCE), so `content` is the concatenated children.
 */
export function derImplicit(tagNumber: number, content: Uint8Array, constructed = false): Buffer {
  return derEncode(CONTEXT_SPECIFIC | (constructed ? CONSTRUCTED : 0) | lowTagNumber(tagNumber), content);
}

function lowTagNumber(tagNumber: number): number {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) {
    throw new RangeError(`unsupported context tag [${tagNumber}]`);
  }
  return tagNumber;
}

/**
 * A certificate Time (RFC 5280 4.1.2.5): UTCTime for 1950 through 2049, GeneralizedTime
 * otherwise; whole seconds in UTC, as DER requires.
 */
export function derTime(date: Date): Buffer {
  if (Number.isNaN(date.getTime())) throw new RangeError('cannot encode an invalid date');
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`cannot encode the year ${year}`);
  const two = (value: number) => String(value).padStart(2, '0');
  const rest =
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes()) +
    two(date.getUTCSeconds()) +
    'Z';
  if (year >= 1950 && year < 2050) return derEncode(DER_UTC_TIME, Buffer.from(two(year % 100) + rest, 'latin1'));
  return derEncode(DER_GENERALIZED_TIME, Buffer.from(String(year).padStart(4, '0') + rest, 'latin1'));
}
