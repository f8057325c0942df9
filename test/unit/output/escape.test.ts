import { describe, expect, it } from 'vitest';
import { escapeLine, stackLines, stringifyJson } from '../../../src/output/escape.js';
import { mustEscape, rawCharacters } from '../../helpers/control-chars.js';

/** Every code point of the Basic Multilingual Plane except the surrogates, and a few beyond it. */
function* codePoints(): Generator<number> {
  for (let cp = 0; cp <= 0xffff; cp++) if (cp < 0xd800 || cp > 0xdfff) yield cp;
  yield* [0x1f600, 0xe0001, 0xe0041, 0xe007f, 0xe0080, 0x10ffff];
}

describe('escapeLine', () => {
  it('escapes every C0, DEL, C1, bidi and line-separator code point, and leaves every other one as it is', () => {
    const escaped: number[] = [];
    for (const cp of codePoints()) {
      const char = String.fromCodePoint(cp);
      const out = escapeLine(`a${char}b`);
      if (mustEscape(cp)) {
        escaped.push(cp);
        expect(out.startsWith('a\\') && out.endsWith('b'), `U+${cp.toString(16)}`).toBe(true);
        for (const c of out) expect(mustEscape(c.codePointAt(0) as number)).toBe(false);
      } else if (out !== `a${char}b`) {
        expect.fail(`U+${cp.toString(16)} was changed to ${JSON.stringify(out)}`);
      }
    }
    // C0, DEL, C1, U+200B-U+200F, U+202A-U+202E, U+2066-U+2069, U+FFF9-U+FFFB, U+061C U+2028 U+2029 U+FEFF, three tags.
    expect(escaped).toHaveLength(32 + 1 + 32 + 5 + 5 + 4 + 3 + 4 + 3);
  });

  it('shows what was there: \\n \\r \\t by name, other controls as \\xHH, the rest as \\uHHHH', () => {
    expect(escapeLine('a\nb\r\nc\td')).toBe('a\\nb\\r\\nc\\td');
    expect(escapeLine('\x00\x1b[2J\x07\x7f')).toBe('\\x00\\x1b[2J\\x07\\x7f');
    expect(escapeLine('\u0085\u009b31m')).toBe('\\x85\\x9b31m');
    expect(escapeLine('rlo\u202egnp.exe \u2066x\u2069 \u200e\u200f\u061c \u2028\u2029')).toBe(
      'rlo\\u202egnp.exe \\u2066x\\u2069 \\u200e\\u200f\\u061c \\u2028\\u2029',
    );
    expect(escapeLine('exa\u200bmple.com\ufeff \u{e0041}')).toBe('exa\\u200bmple.com\\ufeff \\u{e0041}');
  });

  it('leaves backslashes, quotes and non-ASCII text alone (Windows paths, IDNs, messages stay readable)', () => {
    for (const text of [
      'C:\\ProgramData\\acmecli\\x1b',
      'café.example → bücher.example',
      '日本語.jp',
      'say "hi" 🎉',
      '',
    ]) {
      expect(escapeLine(text)).toBe(text);
    }
  });
});

describe('stringifyJson', () => {
  const hostile = {
    detail:
      'a\x1b[2J\x00\r\n2025-01-01T00:00:00Z INFO forged\u009b\x7f\u202e\u2066\u2069\u200f\u061c\u2028\u200b\u{e0041}',
    list: ['\u0085'],
  };

  it('writes DEL, C1, bidi and line separators as \\uXXXX, and the document decodes to the same value', () => {
    for (const space of [undefined, 2]) {
      const text = stringifyJson(hostile, space);
      expect(JSON.parse(text)).toEqual(hostile);
      expect(rawCharacters(text), text).toEqual([]);
      for (const escape of [
        '\\u001b',
        '\\u0000',
        '\\r\\n',
        '\\u009b',
        '\\u007f',
        '\\u202e',
        '\\u2066',
        '\\u2069',
        '\\u200f',
        '\\u061c',
        '\\u2028',
        '\\u0085',
        '\\u200b',
        '\\udb40\\udc41',
      ]) {
        expect(text).toContain(escape);
      }
    }
  });

  it('keeps the indentation newlines and says null for undefined', () => {
    expect(stringifyJson({ a: 1 }, 2)).toBe('{\n  "a": 1\n}');
    expect(stringifyJson(undefined)).toBe('null');
  });
});

describe('stackLines', () => {
  it('keeps the message whole as the first line, then one line per frame', () => {
    const error = new TypeError('bad value from the CA:\nforged line');
    const lines = stackLines(error);
    expect(lines[0]).toBe('TypeError: bad value from the CA:\nforged line');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(1)) expect(line).toMatch(/^\s+at /);
  });

  it('gives a stack that does not start with the message as one line', () => {
    const error = new Error('x');
    error.stack = 'something else\n  at f';
    expect(stackLines(error)).toEqual(['something else\n  at f']);
  });
});
