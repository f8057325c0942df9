/**
 * Just enough DER reading to get two things @peculiar/x509 does not expose synchronously or
 * exactly: the to-be-signed bytes of a CSR (for a synchronous signature check with node:crypto)
 * and the raw content bytes of a certificate serial number (RFC 9773 ARI needs them verbatim,
 * including the 00 sign byte). Everything else is parsed by node:crypto or @peculiar/x509.
 */

export interface DerElement {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export const DER_SEQUENCE = 0x30;
export const DER_INTEGER = 0x02;

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
  if ((parent.tag & 0x20) === 0) throw new Error('DER element is not constructed');
  return readDerElement(der, parent.contentStart);
}

export function expectTag(element: DerElement, tag: number): DerElement {
  if (element.tag !== tag) throw new Error(`unexpected DER tag 0x${element.tag.toString(16)}`);
  return element;
}
