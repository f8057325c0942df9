/**
 * Minimal DNS wire format (RFC 1035 4.1, RFC 2136 2, RFC 8945 4.2) for what nsupdate needs:
 * encode RFC 2136 UPDATE messages for TXT records, and decode responses far enough to read the
 * header, the zone section, the response code (OPT) and a TSIG record; other records are kept as
 * raw RDATA, since nothing reads them. node:dns has no UPDATE and no TSIG, which
 * is the only reason this file exists; every ordinary lookup goes through node:dns instead.
 *
 * Decoding treats its input as hostile (it arrives over UDP): every read is bounds-checked,
 * compression pointers may only point backwards and are hop-limited, and any malformation throws
 * `DnsMessageError`, never a RangeError or a TypeError.
 *
 * Names are presentation strings without the trailing dot (`example.com`, root is `.`), with
 * RFC 1035 5.1 escapes (`\.`, `\\`, `\DDD`) for bytes that are not plain. Comparisons are
 * case-insensitive (RFC 4343) through `normalizeName`/`namesEqual`.
 */
import { PluginError } from '../../src/errors.js';

/** Malformed DNS message (ours to encode or the server's to decode). */
export class DnsMessageError extends PluginError {}

export const RR_TYPE = {
  SOA: 6,
  TXT: 16,
  OPT: 41,
  TSIG: 250,
} as const;

export const RR_CLASS = {
  IN: 1,
  /** RFC 2136 2.5.4: "delete an RR from an RRset" uses class NONE. */
  NONE: 254,
  ANY: 255,
} as const;

export const OPCODE = { UPDATE: 5 } as const;

/** RFC 1035, RFC 2136, RFC 6891 and RFC 8945 response codes (TSIG errors share the space). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADMODE: 19,
  BADNAME: 20,
  BADALG: 21,
  BADTRUNC: 22,
  BADCOOKIE: 23,
} as const;

const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));

/** `REFUSED`, `BADSIG`, ... or `RCODE42` for codes without a name. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;
}

const MAX_NAME_WIRE_LENGTH = 255;
const MAX_LABEL_LENGTH = 63;
/** More pointer hops than labels a legal name can have means a loop or an attack. */
const MAX_COMPRESSION_HOPS = 128;
const HEADER_LENGTH = 12;
/** Name (≥1) + type + class + ttl + rdlength: the smallest possible resource record. */
const MIN_RR_LENGTH = 11;
export const MAX_CHARACTER_STRING = 255;

// ---------------------------------------------------------------------------------------------
// Names

/** Lowercase (ASCII only, RFC 4343) and without a trailing dot; the root stays `.`. */
export function normalizeName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (lower === '.' || lower === '') return '.';
  return lower.endsWith('.') && !lower.endsWith('\\.') ? lower.slice(0, -1) : lower;
}

export function namesEqual(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}

/** True when `name` equals `ancestor` or lies below it (`a.b.example.com` under `example.com`). */
export function isSubdomain(name: string, ancestor: string): boolean {
  const n = splitLabels(normalizeName(name)).map((l) => l.toString('latin1'));
  const a = splitLabels(normalizeName(ancestor)).map((l) => l.toString('latin1'));
  if (a.length > n.length) return false;
  return a.every((label, i) => n[n.length - a.length + i] === label);
}

/** Presentation name → raw labels, honouring `\.`, `\\` and `\DDD` escapes. */
export function splitLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  const labels: Buffer[] = [];
  let current: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch === 0x5c /* \ */) {
      const next = name.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(next)) {
        const value = Number(next);
        if (value > 255) throw new DnsMessageError(`invalid escape \\${next} in DNS name "${name}"`);
        current.push(value);
        i += 3;
      } else if (i + 1 < name.length) {
        current.push(name.charCodeAt(i + 1));
        i += 1;
      } else {
        throw new DnsMessageError(`DNS name "${name}" ends in a lone backslash`);
      }
    } else if (ch === 0x2e /* . */) {
      if (current.length === 0) throw new DnsMessageError(`empty label in DNS name "${name}"`);
      labels.push(Buffer.from(current));
      current = [];
    } else {
      if (ch > 0x7f) throw new DnsMessageError(`DNS name "${name}" is not ASCII (use its A-label form)`);
      current.push(ch);
    }
  }
  // A trailing dot (absolute name) leaves nothing pending; anything else is the last label.
  if (current.length > 0) labels.push(Buffer.from(current));
  for (const label of labels) {
    if (label.length > MAX_LABEL_LENGTH) {
      throw new DnsMessageError(`label longer than 63 bytes in DNS name "${name}"`);
    }
  }
  return labels;
}

/** Uncompressed wire form. `lowercase` gives the canonical form TSIG signs (RFC 8945 4.3.3). */
export function encodeName(name: string, options: { lowercase?: boolean } = {}): Buffer {
  const labels = splitLabels(options.lowercase ? normalizeName(name) : name);
  const parts: Buffer[] = [];
  for (const label of labels) parts.push(Buffer.from([label.length]), label);
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > MAX_NAME_WIRE_LENGTH) {
    throw new DnsMessageError(`DNS name longer than 255 bytes: "${name.slice(0, 64)}..."`);
  }
  return wire;
}

function labelToPresentation(label: Buffer): string {
  let out = '';
  for (const byte of label) {
    if (byte === 0x2e || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte <= 0x20 || byte >= 0x7f) out += `\\${byte.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records

/** RFC 8945 4.2 TSIG RDATA. */
export interface TsigData {
  algorithm: string;
  /** Seconds since the epoch (48-bit on the wire). */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

export type RecordData =
  /** TXT, to encode: one or more character-strings, each ≤ 255 bytes. */
  | { kind: 'txt'; strings: Buffer[] }
  | { kind: 'tsig'; tsig: TsigData }
  /** Any other decoded record (TXT included), and empty RDATA of RFC 2136 deletions. */
  | { kind: 'raw'; bytes: Buffer };

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RecordData;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsHeader {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** The 4 header bits only; `DnsMessage.rcode` adds the EDNS extension. */
  rcode: number;
}

export interface DnsMessage {
  header: DnsHeader;
  /** For UPDATE: the zone section (RFC 2136 2.3). */
  questions: DnsQuestion[];
  /** For UPDATE: the prerequisite section. */
  answers: DnsRecord[];
  /** For UPDATE: the update section. */
  authorities: DnsRecord[];
  additionals: DnsRecord[];
  /** Full response code: header bits extended by an OPT record (RFC 6891 6.1.3) when present. */
  rcode: number;
  /** The TSIG record (always last, RFC 8945 5.1) and the byte offset where it starts. */
  tsig?: { record: DnsRecord; data: TsigData; offset: number };
}

/** Splits a TXT value into ≤ 255-byte character-strings (RFC 1035 3.3.14). */
export function txtStrings(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length === 0) return [Buffer.alloc(0)];
  const strings: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += MAX_CHARACTER_STRING) {
    strings.push(bytes.subarray(i, i + MAX_CHARACTER_STRING));
  }
  return strings;
}

// ---------------------------------------------------------------------------------------------
// Encoding (no compression: legal everywhere and keeps TSIG input obvious)

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** 48-bit unsigned big-endian (TSIG time signed). */
export function u48(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** 48) {
    throw new DnsMessageError(`time ${value} does not fit in 48 bits`);
  }
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(value / 2 ** 32));
  b.writeUInt32BE(value % 2 ** 32, 2);
  return b;
}

export function encodeTsigData(tsig: TsigData): Buffer {
  return Buffer.concat([
    encodeName(tsig.algorithm, { lowercase: true }),
    u48(tsig.timeSigned),
    u16(tsig.fudge),
    u16(tsig.mac.length),
    tsig.mac,
    u16(tsig.originalId),
    u16(tsig.error),
    u16(tsig.otherData.length),
    tsig.otherData,
  ]);
}

function encodeRecordData(record: DnsRecord): Buffer {
  const data = record.data;
  switch (data.kind) {
    case 'txt':
      return Buffer.concat(
        data.strings.flatMap((s) => {
          if (s.length > MAX_CHARACTER_STRING) {
            throw new DnsMessageError('TXT character-string longer than 255 bytes');
          }
          return [Buffer.from([s.length]), s];
        }),
      );
    case 'tsig':
      return encodeTsigData(data.tsig);
    case 'raw':
      return data.bytes;
  }
}

export function encodeRecord(record: DnsRecord, options: { lowercaseName?: boolean } = {}): Buffer {
  const rdata = encodeRecordData(record);
  if (rdata.length > 0xffff) throw new DnsMessageError('RDATA longer than 65535 bytes');
  return Buffer.concat([
    encodeName(record.name, { lowercase: options.lowercaseName ?? false }),
    u16(record.type),
    u16(record.class),
    u32(record.ttl),
    u16(rdata.length),
    rdata,
  ]);
}

export interface DnsMessageInput {
  id: number;
  opcode: number;
  rd?: boolean;
  /** Response bits, for test servers and tools that answer. */
  qr?: boolean;
  aa?: boolean;
  tc?: boolean;
  /** Header RCODE (4 bits). */
  rcode?: number;
  questions?: readonly DnsQuestion[];
  answers?: readonly DnsRecord[];
  authorities?: readonly DnsRecord[];
  additionals?: readonly DnsRecord[];
}

export function encodeMessage(message: DnsMessageInput): Buffer {
  const questions = message.questions ?? [];
  const answers = message.answers ?? [];
  const authorities = message.authorities ?? [];
  const additionals = message.additionals ?? [];
  for (const count of [questions.length, answers.length, authorities.length, additionals.length]) {
    if (count > 0xffff) throw new DnsMessageError('too many records for one DNS message');
  }
  if (!Number.isInteger(message.id) || message.id < 0 || message.id > 0xffff) {
    throw new DnsMessageError(`invalid DNS message id ${message.id}`);
  }
  const flags =
    (message.qr ? 0x8000 : 0) |
    ((message.opcode & 0xf) << 11) |
    (message.aa ? 0x0400 : 0) |
    (message.tc ? 0x0200 : 0) |
    (message.rd ? 0x0100 : 0) |
    ((message.rcode ?? 0) & 0xf);
  const header = Buffer.concat([
    u16(message.id),
    u16(flags),
    u16(questions.length),
    u16(answers.length),
    u16(authorities.length),
    u16(additionals.length),
  ]);
  const parts: Buffer[] = [header];
  for (const q of questions) parts.push(encodeName(q.name), u16(q.type), u16(q.class));
  for (const r of [...answers, ...authorities, ...additionals]) parts.push(encodeRecord(r));
  const wire = Buffer.concat(parts);
  if (wire.length > 0xffff) throw new DnsMessageError('DNS message longer than 65535 bytes');
  return wire;
}

/** One TXT change of an UPDATE: add an RR, or delete exactly that RR (name, type and value). */
export interface TxtChange {
  action: 'add' | 'delete';
  name: string;
  value: string;
  /** Used by `add`; RFC 2136 2.5.4 requires 0 for deletes. */
  ttl: number;
}

/**
 * RFC 2136 UPDATE: zone section `zone SOA IN`, no prerequisites, one update RR per change.
 * Adds are class IN (merged into the RRset, never replacing siblings: wildcard + apex values
 * share a name); deletes are class NONE with the exact RDATA, so nothing else is touched.
 */
export function encodeTxtUpdate(update: { id: number; zone: string; changes: readonly TxtChange[] }): Buffer {
  return encodeMessage({
    id: update.id,
    opcode: OPCODE.UPDATE,
    questions: [{ name: update.zone, type: RR_TYPE.SOA, class: RR_CLASS.IN }],
    authorities: update.changes.map((change) => ({
      name: change.name,
      type: RR_TYPE.TXT,
      class: change.action === 'add' ? RR_CLASS.IN : RR_CLASS.NONE,
      ttl: change.action === 'add' ? change.ttl : 0,
      data: { kind: 'txt', strings: txtStrings(change.value) },
    })),
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding

class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  need(count: number, what: string): void {
    if (this.offset + count > this.buf.length) {
      throw new DnsMessageError(`DNS message truncated while reading ${what} at byte ${this.offset}`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.offset++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  u48(what: string): number {
    this.need(6, what);
    const v = this.buf.readUInt16BE(this.offset) * 2 ** 32 + this.buf.readUInt32BE(this.offset + 2);
    this.offset += 6;
    return v;
  }
  bytes(count: number, what: string): Buffer {
    this.need(count, what);
    // A copy: decoded values must not alias a socket buffer that may be reused.
    const b = Buffer.from(this.buf.subarray(this.offset, this.offset + count));
    this.offset += count;
    return b;
  }
  /** A possibly compressed name (RFC 1035 4.1.4); pointers must go strictly backwards. */
  name(what: string): string {
    const labels: Buffer[] = [];
    let wireLength = 1;
    let pos = this.offset;
    let jumped = false;
    let hops = 0;
    // The lowest position a pointer may target: each jump must go before everything read so far.
    let limit = this.offset;
    for (;;) {
      if (pos >= this.buf.length) throw new DnsMessageError(`DNS message truncated in ${what} name`);
      const len = this.buf.readUInt8(pos);
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new DnsMessageError(`DNS message truncated in ${what} name`);
        const target = ((len & 0x3f) << 8) | this.buf.readUInt8(pos + 1);
        if (!jumped) this.offset = pos + 2;
        jumped = true;
        if (++hops > MAX_COMPRESSION_HOPS || target >= limit) {
          throw new DnsMessageError(`bad compression pointer in ${what} name (loop or forward reference)`);
        }
        limit = target;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new DnsMessageError(`unsupported label type in ${what} name`);
      if (len === 0) {
        if (!jumped) this.offset = pos + 1;
        break;
      }
      if (pos + 1 + len > this.buf.length) throw new DnsMessageError(`DNS message truncated in ${what} name`);
      wireLength += len + 1;
      if (wireLength > MAX_NAME_WIRE_LENGTH) throw new DnsMessageError(`${what} name longer than 255 bytes`);
      labels.push(this.buf.subarray(pos + 1, pos + 1 + len));
      pos += 1 + len;
    }
    return labels.length === 0 ? '.' : labels.map(labelToPresentation).join('.');
  }
}

/** TSIG RDATA is read (it gets verified); any other RDATA is kept as bytes, since nothing reads it. */
function decodeRecordData(reader: Reader, type: number, rdlength: number, what: string): RecordData {
  const end = reader.offset + rdlength;
  reader.need(rdlength, `${what} RDATA`);
  if (type !== RR_TYPE.TSIG) return { kind: 'raw', bytes: reader.bytes(rdlength, `${what} RDATA`) };
  const algorithm = reader.name(`${what} TSIG algorithm`);
  const timeSigned = reader.u48(`${what} TSIG time`);
  const fudge = reader.u16(`${what} TSIG fudge`);
  const macSize = reader.u16(`${what} TSIG MAC size`);
  const mac = reader.bytes(macSize, `${what} TSIG MAC`);
  const originalId = reader.u16(`${what} TSIG original id`);
  const error = reader.u16(`${what} TSIG error`);
  const otherLength = reader.u16(`${what} TSIG other length`);
  const otherData = reader.bytes(otherLength, `${what} TSIG other data`);
  if (reader.offset !== end) throw new DnsMessageError(`${what} RDATA length does not match its content`);
  return { kind: 'tsig', tsig: { algorithm, timeSigned, fudge, mac, originalId, error, otherData } };
}

function decodeRecord(reader: Reader, what: string): DnsRecord {
  const name = reader.name(what);
  const type = reader.u16(`${what} type`);
  const cls = reader.u16(`${what} class`);
  const ttl = reader.u32(`${what} TTL`);
  const rdlength = reader.u16(`${what} RDLENGTH`);
  const data = decodeRecordData(reader, type, rdlength, what);
  return { name, type, class: cls, ttl, data };
}

/** Decodes a whole message; throws DnsMessageError on anything malformed or left over. */
export function decodeMessage(input: Uint8Array): DnsMessage {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < HEADER_LENGTH)
    throw new DnsMessageError(`DNS message shorter than its header (${buf.length} bytes)`);
  const reader = new Reader(buf);
  const id = reader.u16('header');
  const flags = reader.u16('header');
  const counts = [reader.u16('header'), reader.u16('header'), reader.u16('header'), reader.u16('header')] as const;
  const [qd, an, ns, ar] = counts;
  // Cheap sanity bound before looping: each question takes ≥ 5 bytes, each record ≥ 11.
  if (HEADER_LENGTH + qd * 5 + (an + ns + ar) * MIN_RR_LENGTH > buf.length) {
    throw new DnsMessageError('DNS message section counts exceed its length');
  }
  const header: DnsHeader = {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
  };
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    const name = reader.name('question');
    questions.push({ name, type: reader.u16('question type'), class: reader.u16('question class') });
  }
  const answers: DnsRecord[] = [];
  for (let i = 0; i < an; i++) answers.push(decodeRecord(reader, 'answer'));
  const authorities: DnsRecord[] = [];
  for (let i = 0; i < ns; i++) authorities.push(decodeRecord(reader, 'authority'));
  const additionals: DnsRecord[] = [];
  let tsig: DnsMessage['tsig'];
  let rcode = header.rcode;
  let sawOpt = false;
  for (let i = 0; i < ar; i++) {
    const offset = reader.offset;
    const record = decodeRecord(reader, 'additional');
    additionals.push(record);
    if (record.type === RR_TYPE.TSIG && record.data.kind === 'tsig') {
      // RFC 8945 5.1: a TSIG anywhere but last is FORMERR.
      if (i !== ar - 1) throw new DnsMessageError('TSIG record is not the last additional record');
      tsig = { record, data: record.data.tsig, offset };
    } else if (record.type === RR_TYPE.OPT) {
      if (sawOpt) throw new DnsMessageError('more than one OPT record');
      sawOpt = true;
      rcode = ((record.ttl >>> 24) << 4) | header.rcode;
    }
  }
  if (reader.offset !== buf.length) {
    throw new DnsMessageError(`${buf.length - reader.offset} unexpected bytes after the last DNS record`);
  }
  const message: DnsMessage = { header, questions, answers, authorities, additionals, rcode };
  if (tsig) message.tsig = tsig;
  return message;
}
