import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DER_SEQUENCE,
  decodeDerOid,
  derBitString,
  derBoolean,
  derChildren,
  derElementContent,
  derEncode,
  derExplicit,
  derImplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtf8String,
  readDerBitStringBytes,
  readDerDocument,
  readDerElement,
  readDerOid,
  readDerSmallInteger,
  readDerString,
} from '../../../src/crypto/der.js';
import { makeTempDir, openssl, type TempDir } from './openssl.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir('der');
});
afterAll(() => dir.remove());

describe('DER writer', () => {
  it.each([
    [0, '0400'],
    [127, '047f'],
    [128, '048180'],
    [255, '0481ff'],
    [256, '04820100'],
    [65_535, '0482ffff'],
    [65_536, '0483010000'],
  ])('writes a %i-byte content with the shortest length form', (length, header) => {
    const encoded = derOctetString(Buffer.alloc(length, 0xab));
    expect(hex(encoded.subarray(0, header.length / 2))).toBe(header);
    expect(encoded).toHaveLength(header.length / 2 + length);
    const element = readDerElement(encoded, 0);
    expect(element.end).toBe(encoded.length);
    expect(element.contentStart).toBe(header.length / 2);
  });

  it.each([
    [0, '020100'],
    [127, '02017f'],
    [128, '02020080'],
    [256, '02020100'],
    [65_537, '0203010001'],
    [Buffer.from([0, 0, 0x80]), '02020080'],
    [Buffer.from([0, 0]), '020100'],
    [Buffer.from([]), '020100'],
    [Buffer.from([0x40, 0x01]), '02024001'],
    [Buffer.from([0xff, 0x01]), '020300ff01'],
  ])('writes the INTEGER %o as %s (minimal, positive)', (value, expected) => {
    expect(hex(derInteger(value))).toBe(expected);
  });

  it('refuses INTEGERs it cannot write exactly', () => {
    expect(() => derInteger(-1)).toThrow(RangeError);
    expect(() => derInteger(1.5)).toThrow(RangeError);
    expect(() => derInteger(2 ** 53)).toThrow(RangeError);
  });

  it.each([
    ['1.2.840.113549.1.1.11', '06092a864886f70d01010b'],
    ['2.5.29.17', '0603551d11'],
    ['1.3.6.1.5.5.7.1.31', '06082b0601050507011f'],
    // X.690 8.19.5's example: the second arc of a 2.x OID may exceed 39.
    ['2.999.3', '0603883703'],
    ['0.0', '060100'],
  ])('writes and reads back the OID %s', (oid, expected) => {
    const encoded = derOid(oid);
    expect(hex(encoded)).toBe(expected);
    expect(readDerOid(encoded, readDerDocument(encoded))).toBe(oid);
  });

  it.each(['', '1', '3.1', '1.40', '1.2.a', '1..2', `1.2.${2 ** 53}`])('refuses the OID %j', (oid) => {
    expect(() => derOid(oid)).toThrow(RangeError);
  });

  it.each([
    ['2049-12-31T23:59:59.999Z', '170d3439313233313233353935395a'],
    ['1950-01-01T00:00:00Z', '170d3530303130313030303030305a'],
    ['2050-01-01T00:00:00Z', '180f32303530303130313030303030305a'],
    ['1949-12-31T23:59:59Z', '180f31393439313233313233353935395a'],
  ])('writes %s as UTCTime through 2049 and GeneralizedTime otherwise', (iso, expected) => {
    expect(hex(derTime(new Date(iso)))).toBe(expected);
  });

  it('refuses an invalid date', () => {
    expect(() => derTime(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('writes the small types', () => {
    expect(hex(derBoolean(true))).toBe('0101ff');
    expect(hex(derBoolean(false))).toBe('010100');
    expect(hex(derNull())).toBe('0500');
    expect(hex(derBitString(Buffer.from([1, 2])))).toBe('0303000102');
    expect(hex(derUtf8String('é'))).toBe('0c02c3a9');
    expect(hex(derPrintableString('A b'))).toBe('1303412062');
    expect(() => derPrintableString('*.example.org')).toThrow(RangeError);
    expect(hex(derSequence())).toBe('3000');
  });

  it('writes context tags: explicit is constructed around the element, implicit replaces its tag', () => {
    expect(hex(derExplicit(0, derInteger(2)))).toBe('a003020102');
    expect(hex(derExplicit(3, derSequence()))).toBe('a3023000');
    expect(hex(derImplicit(2, Buffer.from('a')))).toBe('820161');
    expect(hex(derImplicit(0, derInteger(1), true))).toBe('a003020101');
    expect(() => derExplicit(31, derNull())).toThrow(RangeError);
    expect(() => derImplicit(-1, Buffer.alloc(0))).toThrow(RangeError);
  });

  it('sorts the elements of a SET by their encodings', () => {
    expect(hex(derSet(derInteger(256), derInteger(2), derInteger(1)))).toBe('310a02010102010202020100');
  });

  it('writes byte for byte what openssl asn1parse -genconf writes for the same structure', () => {
    const longContent = Buffer.alloc(300, 0xab);
    writeFileSync(
      dir.file('structure.cnf'),
      [
        'asn1=SEQUENCE:top',
        '[top]',
        'a=INTEGER:0',
        'b=INTEGER:0x80',
        'c=OID:1.2.840.113549.1.1.11',
        'd=UTF8:*.example.org',
        'e=PRINTABLESTRING:Example CA',
        'f=NULL',
        'g=BOOLEAN:TRUE',
        'h=UTCTIME:491231235959Z',
        'i=GENERALIZEDTIME:20500101000000Z',
        `j=FORMAT:HEX,OCTETSTRING:${longContent.toString('hex')}`,
        'k=FORMAT:HEX,BITSTRING:0102ff',
        'l=EXPLICIT:0,INTEGER:2',
        'm=IMPLICIT:2,IA5STRING:example.org',
        'n=SET:numbers',
        'o=IMPLICIT:0,SET:numbers',
        '[numbers]',
        'x=INTEGER:2',
        'y=INTEGER:1',
        'z=INTEGER:0x0100',
        '',
      ].join('\n'),
    );
    openssl(['asn1parse', '-genconf', 'structure.cnf', '-out', 'structure.der', '-noout'], dir.path);
    const numbers = [derInteger(2), derInteger(1), derInteger(256)];
    const sortedNumbers = derSet(...numbers);
    const ours = derSequence(
      derInteger(0),
      derInteger(0x80),
      derOid('1.2.840.113549.1.1.11'),
      derUtf8String('*.example.org'),
      derPrintableString('Example CA'),
      derNull(),
      derBoolean(true),
      derTime(new Date('2049-12-31T23:59:59Z')),
      derTime(new Date('2050-01-01T00:00:00Z')),
      derOctetString(longContent),
      derBitString(Buffer.from([0x01, 0x02, 0xff])),
      derExplicit(0, derInteger(2)),
      derImplicit(2, Buffer.from('example.org')),
      sortedNumbers,
      derImplicit(0, derElementContent(sortedNumbers, readDerDocument(sortedNumbers)), true),
    );
    expect(hex(ours)).toBe(hex(readFileSync(dir.file('structure.der'))));
  });
});

describe('DER reader', () => {
  it('reads OIDs whose arcs exceed 2^53 (UUID OIDs), as openssl writes them', () => {
    const oid = '2.25.329800735698586629295641978511506172918';
    writeFileSync(dir.file('uuid.cnf'), `asn1=OID:${oid}\n`);
    openssl(['asn1parse', '-genconf', 'uuid.cnf', '-out', 'uuid.der', '-noout'], dir.path);
    const der = readFileSync(dir.file('uuid.der'));
    expect(readDerOid(der, readDerDocument(der))).toBe(oid);
  });

  it.each([
    ['empty', []],
    ['an unfinished subidentifier', [0x2a, 0x86]],
    ['a padded subidentifier', [0x2a, 0x80, 0x01]],
  ])('refuses an OID content that is %s', (_what, bytes) => {
    expect(() => decodeDerOid(Buffer.from(bytes))).toThrow('malformed OBJECT IDENTIFIER');
  });

  it('refuses trailing bytes after a document, and children that overrun their parent', () => {
    expect(() => readDerDocument(Buffer.from('050000', 'hex'))).toThrow('trailing bytes');
    // SEQUENCE of length 3 whose child claims 4 content bytes; the outer buffer has them.
    const overrun = Buffer.from('3003040401020304', 'hex');
    expect(() => derChildren(overrun, readDerElement(overrun, 0))).toThrow('overruns its parent');
    expect(() => derChildren(Buffer.from('0500', 'hex'), readDerElement(Buffer.from('0500', 'hex'), 0))).toThrow(
      'not constructed',
    );
  });

  it('refuses truncated, indefinite and over-long lengths', () => {
    expect(() => readDerElement(Buffer.from('30', 'hex'), 0)).toThrow('truncated');
    expect(() => readDerElement(Buffer.from('3005020100', 'hex'), 0)).toThrow('truncated');
    expect(() => readDerElement(Buffer.from('30800000', 'hex'), 0)).toThrow('unsupported DER length');
    expect(() => readDerElement(Buffer.from('3085ffffffffff', 'hex'), 0)).toThrow('unsupported DER length');
    expect(() => readDerElement(Buffer.from('1f0100', 'hex'), 0)).toThrow('unsupported');
  });

  it('reads whole-byte BIT STRINGs, small INTEGERs and directory strings', () => {
    const bits = derBitString(Buffer.from([7, 8]));
    expect(hex(readDerBitStringBytes(bits, readDerDocument(bits)))).toBe('0708');
    const partial = Buffer.from('03020180', 'hex');
    expect(() => readDerBitStringBytes(partial, readDerDocument(partial))).toThrow('unused bits');

    const integer = derInteger(65_537);
    expect(readDerSmallInteger(integer, readDerDocument(integer))).toBe(65_537);
    const negative = Buffer.from('0201ff', 'hex');
    expect(() => readDerSmallInteger(negative, readDerDocument(negative))).toThrow('out of range');

    const string = (der: Buffer) => readDerString(der, readDerDocument(der));
    expect(string(derUtf8String('*.exämple.org'))).toBe('*.exämple.org');
    expect(string(derPrintableString('Example'))).toBe('Example');
    expect(string(derEncode(0x1e, Buffer.from('0065002e00e9', 'hex')))).toBe('e.é');
    expect(string(derEncode(0x1e, Buffer.from('006500', 'hex')))).toBeUndefined();
    expect(string(derInteger(1))).toBeUndefined();
  });

  it('walks what the writer wrote', () => {
    const der = derSequence(derInteger(1), derSet(derNull()), derExplicit(0, derOid('2.5.29.17')));
    const root = readDerDocument(der);
    expect(root.tag).toBe(DER_SEQUENCE);
    const [integer, set, tagged] = derChildren(der, root);
    expect(readDerSmallInteger(der, integer!)).toBe(1);
    expect(derChildren(der, set!).map((child) => child.tag)).toEqual([0x05]);
    expect(readDerOid(der, derChildren(der, tagged!)[0]!)).toBe('2.5.29.17');
  });
});
