import { describe, expect, it } from 'vitest';
import {
  DnsMessageError,
  OPCODE,
  RCODE,
  RR_CLASS,
  RR_TYPE,
  decodeMessage,
  encodeMessage,
  encodeName,
  encodeTxtUpdate,
  isSubdomain,
  namesEqual,
  normalizeName,
  rcodeName,
  splitLabels,
  txtStrings,
} from '../../../plugins/nsupdate/dns-message.js';

/** An UPDATE exactly as BIND's nsupdate sent it (captured; see tsig.test.ts for the key). */
const NSUPDATE_REQUEST = Buffer.from(
  '183428000001000000010001076578616d706c650474657374000006000106766563746f72c00c001000010000003c000d0c7368613235362d76616c75650d766563746f722d7368613235360000fa00ff00000000003d0b686d61632d7368613235360000006b06cdf4012c00208b66cb4de12c6d6cb0e3d57f8a78d8546fa9073e4d59752438cb74fe2914fb95183400000000',
  'hex',
);

/** TXT RDATA: each character-string with its length byte. */
function txtRdata(...strings: string[]): Buffer {
  return Buffer.concat(strings.flatMap((text) => [Buffer.from([Buffer.byteLength(text)]), Buffer.from(text)]));
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + i * 2));
  return b;
}

describe('DNS names', () => {
  it('normalizes case and the trailing dot, and compares case-insensitively', () => {
    expect(normalizeName('WWW.Example.COM.')).toBe('www.example.com');
    expect(normalizeName('.')).toBe('.');
    expect(namesEqual('_ACME-challenge.Example.com', '_acme-challenge.example.com.')).toBe(true);
    expect(namesEqual('a.example.com', 'b.example.com')).toBe(false);
  });

  it('knows what lies inside a zone', () => {
    expect(isSubdomain('_acme-challenge.www.example.com', 'example.com')).toBe(true);
    expect(isSubdomain('example.com', 'EXAMPLE.com.')).toBe(true);
    expect(isSubdomain('badexample.com', 'example.com')).toBe(false);
    expect(isSubdomain('example.com', 'www.example.com')).toBe(false);
  });

  it('encodes labels with escapes and rejects illegal names', () => {
    expect(encodeName('a.b')).toEqual(Buffer.from([1, 0x61, 1, 0x62, 0]));
    expect(encodeName('.')).toEqual(Buffer.from([0]));
    expect(splitLabels('a\\.b.c').map((l) => l.toString())).toEqual(['a.b', 'c']);
    expect(splitLabels('\\065b.c').map((l) => l.toString())).toEqual(['Ab', 'c']);
    expect(encodeName('Mixed.Case', { lowercase: true })).toEqual(encodeName('mixed.case'));
    expect(() => encodeName('a..b')).toThrow(DnsMessageError);
    expect(() => encodeName(`${'x'.repeat(64)}.com`)).toThrow(/63 bytes/);
    expect(() => encodeName(Array(130).fill('ab').join('.'))).toThrow(/255 bytes/);
    expect(() => encodeName('bücher.example')).toThrow(/A-label/);
  });
});

describe('UPDATE encoding', () => {
  it('round-trips an add and a class NONE delete (RFC 2136 2.5.1, 2.5.4)', () => {
    const wire = encodeTxtUpdate({
      id: 0x1234,
      zone: 'example.test',
      changes: [
        { action: 'add', name: '_acme-challenge.example.test', value: 'value-1', ttl: 60 },
        { action: 'delete', name: '_acme-challenge.example.test', value: 'value-2', ttl: 60 },
      ],
    });
    const message = decodeMessage(wire);
    expect(message.header).toMatchObject({ id: 0x1234, qr: false, opcode: OPCODE.UPDATE, rcode: 0 });
    expect(message.questions).toEqual([{ name: 'example.test', type: RR_TYPE.SOA, class: RR_CLASS.IN }]);
    expect(message.answers).toEqual([]);
    const [add, del] = message.authorities;
    expect(add).toMatchObject({ name: '_acme-challenge.example.test', type: RR_TYPE.TXT, class: RR_CLASS.IN, ttl: 60 });
    expect(add!.data).toEqual({ kind: 'raw', bytes: txtRdata('value-1') });
    expect(del).toMatchObject({ type: RR_TYPE.TXT, class: RR_CLASS.NONE, ttl: 0 });
    expect(del!.data).toEqual({ kind: 'raw', bytes: txtRdata('value-2') });
  });

  it('splits long TXT values into ≤255-byte character-strings', () => {
    const value = 'x'.repeat(600);
    expect(txtStrings(value).map((s) => s.length)).toEqual([255, 255, 90]);
    const wire = encodeTxtUpdate({ id: 1, zone: 'z', changes: [{ action: 'add', name: 'a.z', value, ttl: 1 }] });
    expect(decodeMessage(wire).authorities[0]!.data).toEqual({
      kind: 'raw',
      bytes: txtRdata('x'.repeat(255), 'x'.repeat(255), 'x'.repeat(90)),
    });
  });

  it('encodes the same update body BIND nsupdate sends (modulo name compression)', () => {
    const bind = decodeMessage(NSUPDATE_REQUEST);
    const ours = decodeMessage(
      encodeTxtUpdate({
        id: bind.header.id,
        zone: 'example.test',
        changes: [{ action: 'add', name: 'vector.example.test', value: 'sha256-value', ttl: 60 }],
      }),
    );
    expect(ours.header).toEqual(bind.header);
    expect(ours.questions).toEqual(bind.questions);
    expect(ours.authorities).toEqual(bind.authorities);
  });
});

describe('response decoding', () => {
  it('follows compression pointers in owner names, keeps their case, and keeps RDATA as bytes', () => {
    const question = Buffer.concat([encodeName('WWW.Example.test'), Buffer.from([0, 16, 0, 1])]);
    const rr = (nameWire: Buffer, type: number, rdata: Buffer): Buffer => {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt16BE(type, 0);
      fixed.writeUInt16BE(1, 2);
      fixed.writeUInt32BE(300, 4);
      fixed.writeUInt16BE(rdata.length, 8);
      return Buffer.concat([nameWire, fixed, rdata]);
    };
    const ptr = (offset: number): Buffer => Buffer.from([0xc0 | (offset >> 8), offset & 0xff]);
    // Question name starts at 12; "Example.test" at 16. A CNAME's RDATA may hold a pointer too:
    // it is not read, so it stays as it came.
    const cname = Buffer.concat([Buffer.from([1, 0x78]), ptr(16)]);
    const wire = Buffer.concat([
      header(99, 0x8580, [1, 2, 1, 0]),
      question,
      rr(ptr(12), RR_TYPE.TXT, txtRdata('hi', '!')),
      rr(ptr(12), 5, cname),
      rr(ptr(16), RR_TYPE.SOA, Buffer.alloc(22, 1)),
    ]);
    const message = decodeMessage(wire);
    expect(message.header).toMatchObject({ id: 99, qr: true, aa: true, rd: true, ra: true, rcode: 0 });
    expect(message.questions[0]!.name).toBe('WWW.Example.test');
    expect(message.answers.map((r) => r.name)).toEqual(['WWW.Example.test', 'WWW.Example.test']);
    expect(message.answers.map((r) => r.data)).toEqual([
      { kind: 'raw', bytes: txtRdata('hi', '!') },
      { kind: 'raw', bytes: cname },
    ]);
    expect(message.authorities[0]).toMatchObject({ name: 'Example.test', type: RR_TYPE.SOA, ttl: 300 });
  });

  it('reads TSIG as the last additional record and remembers where it starts', () => {
    const message = decodeMessage(NSUPDATE_REQUEST);
    expect(message.tsig?.record.name).toBe('vector-sha256');
    expect(message.tsig?.data).toMatchObject({ algorithm: 'hmac-sha256', fudge: 300, error: 0, originalId: 0x1834 });
    expect(message.tsig?.data.mac.length).toBe(32);
    expect(NSUPDATE_REQUEST.subarray(message.tsig!.offset, message.tsig!.offset + 14).toString('latin1')).toContain(
      'vector-sha256',
    );
  });

  it('extends the rcode with an OPT record (RFC 6891)', () => {
    const opt = Buffer.concat([
      Buffer.from([0]),
      Buffer.from([0, 41, 0x10, 0]),
      Buffer.from([1, 0, 0, 0]),
      Buffer.from([0, 0]),
    ]);
    const message = decodeMessage(Buffer.concat([header(1, 0x8000 | 0x0, [0, 0, 0, 1]), opt]));
    expect(message.rcode).toBe(16);
    expect(rcodeName(message.rcode)).toBe('BADSIG');
    expect(rcodeName(RCODE.YXRRSET)).toBe('YXRRSET');
    expect(rcodeName(4000)).toBe('RCODE4000');
  });

  it('encodes response flags for test servers', () => {
    const wire = encodeMessage({ id: 5, opcode: OPCODE.UPDATE, qr: true, tc: true, rcode: RCODE.REFUSED });
    expect(decodeMessage(wire).header).toMatchObject({ id: 5, qr: true, tc: true, opcode: 5, rcode: 5 });
  });

  const malformed: Array<[string, Buffer, RegExp]> = [
    ['shorter than a header', Buffer.alloc(5), /shorter than its header/],
    ['counts beyond its length', header(1, 0, [0, 5, 0, 0]), /counts exceed/],
    [
      'a self-pointing name',
      Buffer.concat([header(1, 0, [1, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 1, 0, 1])]),
      /compression pointer/,
    ],
    [
      'a forward pointer',
      Buffer.concat([header(1, 0, [1, 0, 0, 0]), Buffer.from([0xc0, 14, 0, 0, 1, 0, 1])]),
      /compression pointer/,
    ],
    [
      'a pointer loop',
      // name at 12 points to 18, which points back to 12: the second jump is not strictly backwards
      Buffer.concat([header(1, 0, [1, 0, 0, 0]), Buffer.from([1, 0x61, 0xc0, 18, 0, 1, 0, 1, 0xc0, 12])]),
      /compression pointer|unexpected bytes/,
    ],
    ['a label past the end', Buffer.concat([header(1, 0, [1, 0, 0, 0]), Buffer.from([9, 0x61, 0, 0, 0])]), /truncated/],
    [
      'an extended label type',
      Buffer.concat([header(1, 0, [1, 0, 0, 0]), Buffer.from([0x41, 0, 0, 1, 0, 1])]),
      /label type/,
    ],
    ['trailing bytes', Buffer.concat([header(1, 0, [0, 0, 0, 0]), Buffer.from([1])]), /unexpected bytes/],
    [
      'RDATA past the end of the message',
      Buffer.concat([header(1, 0, [0, 1, 0, 0]), Buffer.from([0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2])]),
      /truncated while reading answer RDATA/,
    ],
  ];
  it.each(malformed)('rejects %s with DnsMessageError', (_what, wire, pattern) => {
    expect(() => decodeMessage(wire)).toThrow(DnsMessageError);
    expect(() => decodeMessage(wire)).toThrow(pattern);
  });

  it('rejects TSIG RDATA longer than its content', () => {
    const tsig = Buffer.from(NSUPDATE_REQUEST.subarray(decodeMessage(NSUPDATE_REQUEST).tsig!.offset));
    // Owner name "vector-sha256" takes 15 bytes; RDLENGTH follows type, class and TTL.
    tsig.writeUInt16BE(tsig.readUInt16BE(15 + 8) + 1, 15 + 8);
    const wire = Buffer.concat([header(1, 0x8000, [0, 0, 0, 1]), tsig, Buffer.from([0])]);
    expect(() => decodeMessage(wire)).toThrow(/additional RDATA length does not match its content/);
  });

  it('rejects a TSIG record that is not last', () => {
    const tsig = NSUPDATE_REQUEST.subarray(decodeMessage(NSUPDATE_REQUEST).tsig!.offset);
    const a = Buffer.concat([Buffer.from([0]), Buffer.from([0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])]);
    const wire = Buffer.concat([header(1, 0x8000, [0, 0, 0, 2]), tsig, a]);
    expect(() => decodeMessage(wire)).toThrow(/not the last/);
  });
});
