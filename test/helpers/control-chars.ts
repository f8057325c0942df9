/**
 * What issue 12 §4 says must never reach a terminal, a log file or a JSON document raw, written
 * out here independently of src/output/escape.ts so the tests do not check the code against itself.
 */

/**
 * C0 (newline, CR, tab, NUL included), DEL, C1, bidi controls, the line/paragraph separators, and
 * invisible characters that hide text: zero-width ones, interlinear annotations, tag characters.
 */
export function mustEscape(codePoint: number): boolean {
  return (
    codePoint <= 0x1f ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0x200b && codePoint <= 0x200f) ||
    (codePoint >= 0x202a && codePoint <= 0x202e) ||
    (codePoint >= 0x2066 && codePoint <= 0x2069) ||
    (codePoint >= 0xfff9 && codePoint <= 0xfffb) ||
    (codePoint >= 0xe0000 && codePoint <= 0xe007f) ||
    [0x061c, 0x2028, 0x2029, 0xfeff].includes(codePoint)
  );
}

/** Every such character in `text`, other than the newlines that end its lines, as `line N: U+XXXX`. */
export function rawCharacters(text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, index) => {
    for (const char of line) {
      const codePoint = char.codePointAt(0) as number;
      if (mustEscape(codePoint)) found.push(`line ${index + 1}: U+${codePoint.toString(16).padStart(4, '0')}`);
    }
  });
  return found;
}
