/**
 * PEM framing (RFC 7468) shared by keys, CSRs and certificates. Parsing is deliberately lenient
 * about what surrounds a block (CRLF, explanatory text, Bag Attributes written by openssl pkcs12)
 * and strict about what is inside it, so a truncated or edited file is reported rather than
 * silently decoded to different bytes.
 */

export interface PemBlock {
  label: string;
  /** RFC 1421 headers ("Proc-Type", "DEK-Info"), present on legacy encrypted keys. */
  headers: Record<string, string>;
  /** undefined when the body is not valid base64. */
  der: Buffer | undefined;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function findPemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const [, label = '', body = '', endLabel = ''] = match;
    if (label !== endLabel) continue;
    blocks.push({ label, ...parseBody(body) });
  }
  return blocks;
}

function parseBody(body: string): Pick<PemBlock, 'headers' | 'der'> {
  const headers: Record<string, string> = {};
  const lines = body.split(/\r?\n|\r/).map((line) => line.trim());
  let start = 0;
  // Legacy (RFC 1421) headers end at the first blank line.
  if (lines.some((line) => /^[A-Za-z-]+:/.test(line))) {
    while (start < lines.length && lines[start] === '') start += 1;
    for (; start < lines.length; start += 1) {
      const line = lines[start] ?? '';
      const header = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (header === null) break;
      headers[header[1] ?? ''] = header[2] ?? '';
    }
  }
  const base64 = lines.slice(start).join('');
  if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) {
    return { headers, der: undefined };
  }
  return { headers, der: Buffer.from(base64, 'base64') };
}

export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
