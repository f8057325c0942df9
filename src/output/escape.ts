/**
 * Text from outside acmecli (CA problem documents, names in certificates, the ToS URL, account
 * fields, hook and reload-command output, names from DNS answers) is printed and logged only
 * through `escapeLine` and put into JSON only through `stringifyJson`, both called by the Reporter
 * on every message as a whole.
 *
 * Why whole messages rather than each outside value where it is interpolated: one choke point is
 * what a reviewer can check (every write in src/output goes through it) and no new call site can
 * forget it. acmecli's own messages are one line by construction and multi-line output is handed
 * over as separate lines, so escaping the newline too costs acmecli nothing and means no outside
 * text can start a line: a CA cannot forge a timestamped log line or a line of the renew summary.
 * acmecli's own colours and spinner frames are added after escaping, by ora.
 *
 * The escaped form stays visible (`\x1b`, `\n`, `\u202e`) so the user sees that something was
 * there: dropping it silently would hide the attempt. Backslashes are left alone: Windows paths
 * must stay readable, and a literal `\x1b` written by the CA is text, which no terminal acts on.
 */

/**
 * C0 controls (newline, CR, tab and NUL included), DEL, C1 controls (U+0080–U+009F: U+009B is a
 * CSI on terminals that honour 8-bit controls), bidi marks, embeddings, overrides and isolates
 * (the "Trojan Source" characters: they reorder what is shown, e.g. `gnp.exe` shown as `exe.png`),
 * the Unicode line and paragraph separators, which editors and log viewers break lines on, and the
 * invisible characters that hide text without moving the cursor: zero-width space, (non-)joiner
 * and no-break space (U+200B-U+200D, U+FEFF), interlinear annotation marks (U+FFF9-U+FFFB) and the
 * tag characters (U+E0000-U+E007F), so `exa\u200bmple.com` cannot pass for `example.com`.
 */

const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;

/** What JSON.stringify leaves raw inside strings (it escapes every C0 control itself). */
const UNSAFE_IN_JSON =
  /[\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;

/** `\uXXXX`, or the surrogate pair JSON and JavaScript both read back as one astral character. */
function unicodeEscape(char: string): string {
  let escaped = '';
  for (let index = 0; index < char.length; index++)
    escaped += `\\u${char.charCodeAt(index).toString(16).padStart(4, '0')}`;
  return escaped;
}

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function visible(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.codePointAt(0) as number;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` as one line a terminal shows as is: every control, bidi and line-separator character escaped. */
export function escapeLine(text: string): string {
  return text.replace(UNSAFE, visible);
}

/**
 * JSON.stringify escapes C0 controls but leaves DEL, C1, bidi and the line separators raw, and
 * `acmecli --json | jq .` shows them to a terminal: they are written as `\uXXXX`, which JSON
 * readers decode back to the same string. Outside strings, JSON.stringify emits none of them (its
 * only raw control is the newline of `space` indentation).
 */
export function stringifyJson(value: unknown, space?: number): string {
  return (JSON.stringify(value, null, space) ?? 'null').replace(UNSAFE_IN_JSON, unicodeEscape);
}

/**
 * An error's stack as lines for a debug log: the message (which may quote the CA) as one line,
 * then the frames, which name acmecli's own code.
 */
export function stackLines(error: Error): string[] {
  const head = String(error);
  const stack = error.stack ?? head;
  // A stack that does not start with the message cannot be split safely: one line, escaped whole.
  if (!stack.startsWith(head)) return [stack];
  return [
    head,
    ...stack
      .slice(head.length)
      .split('\n')
      .filter((line) => line.trim() !== ''),
  ];
}
