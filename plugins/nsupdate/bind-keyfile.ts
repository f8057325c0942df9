/**
 * TSIG keys as BIND users already have them: `tsig-keygen`/`ddns-confgen` key files
 * (`key "name" { algorithm hmac-sha256; secret "base64"; };`), and nsupdate's `-y [alg:]name:secret`.
 *
 * Messages name the file (or flag) and line, never the secret. A file holding several keys needs
 * `--nsupdate-key-name`; one holding a single key is used as it is.
 */
import { readUserFile } from '../../src/store/user-file.js';
import { UsageError, messageOf } from '../../src/errors.js';
import { DnsMessageError, normalizeName } from './dns-message.js';
import {
  TsigKey,
  decodeBase64Secret,
  parseTsigAlgorithm,
  unsupportedAlgorithmReason,
  type TsigAlgorithm,
} from './tsig.js';

/** nsupdate's `-y` default is HMAC-MD5, which we refuse; a bare `name:secret` means this. */
export const DEFAULT_KEY_STRING_ALGORITHM: TsigAlgorithm = 'hmac-sha256';

/**
 * Key files are a few hundred bytes; a larger one is the wrong file. At most this much is read
 * (a 700 MB file or /dev/zero costs nothing).
 */
const MAX_KEY_FILE_BYTES = 64 * 1024;

type Token =
  | { kind: 'word'; text: string; line: number }
  | { kind: 'string'; text: string; line: number }
  | { kind: 'punct'; text: '{' | '}' | ';'; line: number };

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const fail = (message: string): never => {
    throw new UsageError(`${source}: line ${line}: ${message}`);
  };
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === '\n') {
      line++;
      i++;
    } else if (/\s/.test(ch)) {
      i++;
    } else if (ch === '#' || (ch === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated /* comment');
      for (let j = i; j < end; j++) if (text[j] === '\n') line++;
      i = end + 2;
    } else if (ch === '{' || ch === '}' || ch === ';') {
      tokens.push({ kind: 'punct', text: ch, line });
      i++;
    } else if (ch === '"') {
      const start = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) {
          line = start;
          fail('unterminated quoted string');
        }
        const c = text[i] as string;
        if (c === '"') break;
        if (c === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        if (c === '\n') line++;
        value += c;
        i++;
      }
      i++;
      tokens.push({ kind: 'string', text: value, line: start });
    } else {
      let value = '';
      while (i < text.length && !/[\s{};"]/.test(text[i] as string)) {
        if (text[i] === '#' || (text[i] === '/' && (text[i + 1] === '/' || text[i + 1] === '*'))) break;
        value += text[i];
        i++;
      }
      tokens.push({ kind: 'word', text: value, line });
    }
  }
  return tokens;
}

/** Parses every `key` statement of a BIND configuration fragment; other statements are skipped. */
export function parseBindKeyFile(text: string, source: string): TsigKey[] {
  if (/^\s*Private-key-format:/m.test(text)) {
    throw new UsageError(
      `${source}: this is a dnssec-keygen private key, not a TSIG key file; create one with "tsig-keygen -a hmac-sha256 NAME"`,
    );
  }
  const tokens = tokenize(text, source);
  const keys: TsigKey[] = [];
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const lastLine = (): number => tokens[tokens.length - 1]?.line ?? 1;
  const fail = (message: string, token: Token | undefined = peek()): never => {
    throw new UsageError(`${source}: line ${token?.line ?? lastLine()}: ${message}`);
  };
  const expectPunct = (p: '{' | '}' | ';', after: string): void => {
    const t = peek();
    if (t?.kind !== 'punct' || t.text !== p) fail(`expected "${p}" ${after}`);
    pos++;
  };
  /** Skips one statement: words/strings up to `;` at depth 0, balanced braces included. */
  const skipStatement = (): void => {
    let depth = 0;
    for (;;) {
      const t = tokens[pos++];
      if (t === undefined) fail('unexpected end of file (missing ";"?)');
      else if (t.kind === 'punct' && t.text === '{') depth++;
      else if (t.kind === 'punct' && t.text === '}') {
        depth--;
        if (depth < 0) fail('unbalanced "}"', t);
      } else if (t.kind === 'punct' && t.text === ';' && depth === 0) return;
    }
  };

  while (pos < tokens.length) {
    const head = tokens[pos] as Token;
    if (head.kind === 'punct' && head.text === ';') {
      pos++;
      continue;
    }
    if (head.kind !== 'word' || head.text.toLowerCase() !== 'key') {
      if (head.kind === 'punct') fail(`unexpected "${head.text}"`, head);
      skipStatement();
      continue;
    }
    pos++;
    const nameToken = peek();
    if (nameToken?.kind !== 'word' && nameToken?.kind !== 'string') fail('expected a key name after "key"');
    const name = (nameToken as Token).text;
    pos++;
    expectPunct('{', `after key name "${name}"`);
    let algorithm: TsigAlgorithm | undefined;
    let secret: Buffer | undefined;
    for (;;) {
      const t = peek();
      if (t === undefined) fail(`unexpected end of file inside key "${name}"`);
      if (t?.kind === 'punct' && t.text === '}') {
        pos++;
        break;
      }
      if (t?.kind !== 'word') fail(`unexpected token inside key "${name}"`, t);
      const clause = (t as Token).text.toLowerCase();
      pos++;
      const value = peek();
      if (value?.kind !== 'word' && value?.kind !== 'string')
        fail(`expected a value after "${clause}" in key "${name}"`);
      pos++;
      if (clause === 'algorithm') {
        const text = (value as Token).text;
        algorithm = parseTsigAlgorithm(text);
        if (algorithm === undefined) fail(unsupportedAlgorithmReason(text), value);
      } else if (clause === 'secret') {
        secret = decodeBase64Secret((value as Token).text);
        // Say where, never what: the token is the secret.
        if (secret === undefined) fail(`the secret of key "${name}" is not valid base64`, value);
      } else {
        fail(`unknown clause "${clause}" in key "${name}"`, t);
      }
      expectPunct(';', `after the ${clause} of key "${name}"`);
    }
    expectPunct(';', `after the closing "}" of key "${name}"`);
    if (algorithm === undefined) fail(`key "${name}" has no algorithm`, nameToken);
    if (secret === undefined) fail(`key "${name}" has no secret`, nameToken);
    let key: TsigKey;
    try {
      key = new TsigKey(name, algorithm as TsigAlgorithm, secret as Buffer);
    } catch (error) {
      throw new UsageError(`${source}: line ${(nameToken as Token).line}: invalid key "${name}": ${messageOf(error)}`);
    }
    if (keys.some((k) => k.name === key.name)) fail(`key "${key.name}" is defined twice`, nameToken);
    keys.push(key);
  }
  return keys;
}

/** The key named `name`, or the only key when no name is given. */
export function selectKey(
  keys: readonly TsigKey[],
  name: string | undefined,
  source: string,
  nameFlag = '--nsupdate-key-name',
): TsigKey {
  if (keys.length === 0) throw new UsageError(`${source}: no "key" statement found`);
  if (name !== undefined) {
    const wanted = normalizeName(name);
    const key = keys.find((k) => k.name === wanted);
    if (key === undefined) {
      throw new UsageError(`${source}: no key named "${wanted}" (keys: ${keys.map((k) => k.name).join(', ')})`);
    }
    return key;
  }
  if (keys.length > 1) {
    throw new UsageError(
      `${source} holds ${keys.length} keys (${keys.map((k) => k.name).join(', ')}); choose one with ${nameFlag}`,
    );
  }
  return keys[0] as TsigKey;
}

/** Reads and parses a key file; unreadable → LocalError, malformed → UsageError. */
export async function readBindKeyFile(
  path: string,
  name: string | undefined,
  options: { flag?: string; nameFlag?: string; signal?: AbortSignal } = {},
): Promise<TsigKey> {
  const flag = options.flag ?? '--nsupdate-key-file';
  const source = `${flag} ${path}`;
  // The read itself is at most 64 KiB: the signal is looked at once, before it.
  options.signal?.throwIfAborted();
  const text = await readUserFile(path, flag, MAX_KEY_FILE_BYTES, 'too large for a TSIG key file');
  return selectKey(parseBindKeyFile(text, source), name, source, options.nameFlag);
}

/**
 * nsupdate's `-y [alg:]name:secret`. Without an algorithm, hmac-sha256 (nsupdate would use
 * HMAC-MD5, which we refuse). The input is a secret: errors describe its shape only.
 */
export function parseKeyString(text: string, flag = '--nsupdate-key'): TsigKey {
  const parts = text.trim().split(':');
  let algorithmText: string | undefined;
  let name: string | undefined;
  let secretText: string | undefined;
  if (parts.length === 3) [algorithmText, name, secretText] = parts;
  else if (parts.length === 2) [name, secretText] = parts;
  else throw new UsageError(`${flag} must look like [algorithm:]name:secret (the value is not shown)`);
  let algorithm = DEFAULT_KEY_STRING_ALGORITHM;
  if (algorithmText !== undefined) {
    const parsed = parseTsigAlgorithm(algorithmText);
    if (parsed === undefined) throw new UsageError(`${flag}: ${unsupportedAlgorithmReason(algorithmText)}`);
    algorithm = parsed;
  }
  if (name === undefined || name === '') throw new UsageError(`${flag}: the key name is empty`);
  const secret = decodeBase64Secret(secretText ?? '');
  if (secret === undefined) throw new UsageError(`${flag}: the secret of key "${name}" is not valid base64`);
  try {
    return new TsigKey(name, algorithm, secret);
  } catch (error) {
    const reason = error instanceof DnsMessageError ? error.message : messageOf(error);
    throw new UsageError(`${flag}: invalid key "${name}": ${reason}`);
  }
}
