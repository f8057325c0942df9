import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import {
  cmdEscape,
  cronCommandLine,
  shQuote,
  systemdCommandLine,
  systemdQuoteWord,
  windowsCommandLine,
  windowsQuoteArg,
} from '../../../src/schedule/quoting.js';

/** Arguments that break naive quoting in at least one of the targets. */
const TRICKY = [
  'plain',
  '',
  'two words',
  "it's",
  'say "hi"',
  'C:\\dir\\',
  'C:\\dir with space\\',
  'back\\\\slashes\\"quote',
  '50%',
  '%PATH%',
  '$HOME',
  '${HOME}',
  '`id`',
  '$(id)',
  'a&b|c<d>e^f(g)!h',
  ';',
  '#not-a-comment',
  '*',
  'two  spaces',
  'ünïcödé',
];

/**
 * CommandLineToArgvW / MSVCRT (2008+) rules, the reference the Windows quoting must round-trip
 * through: 2n backslashes + quote → n backslashes and a quote toggle; 2n+1 → n and a literal
 * quote; `""` inside quotes → a literal quote.
 */
function parseWindowsArgs(line: string): string[] {
  const args: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) return args;
    let arg = '';
    let quoted = false;
    while (i < line.length) {
      const ch = line[i] as string;
      if (!quoted && (ch === ' ' || ch === '\t')) break;
      if (ch === '\\') {
        let count = 0;
        while (line[i] === '\\') {
          count++;
          i++;
        }
        if (line[i] === '"') {
          arg += '\\'.repeat(Math.floor(count / 2));
          if (count % 2 === 1) {
            arg += '"';
            i++;
          }
        } else {
          arg += '\\'.repeat(count);
        }
        continue;
      }
      if (ch === '"') {
        if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
        } else {
          quoted = !quoted;
          i++;
        }
        continue;
      }
      arg += ch;
      i++;
    }
    args.push(arg);
  }
}

/** What cmd.exe hands the program when it never enters quoted mode: every `^x` becomes `x`. */
function cmdUnescape(line: string): string {
  return line.replace(/\^(.)/g, '$1');
}

describe('systemd quoting', () => {
  it('leaves plain words alone and quotes the rest with C escapes', () => {
    expect(systemdQuoteWord('/usr/bin/acmecli', 'executable')).toBe('/usr/bin/acmecli');
    expect(systemdQuoteWord('--config-dir', 'argument')).toBe('--config-dir');
    expect(systemdQuoteWord('/opt/acme cli/acmecli', 'executable')).toBe('"/opt/acme cli/acmecli"');
    expect(systemdQuoteWord('say "hi"', 'argument')).toBe('"say \\"hi\\""');
    expect(systemdQuoteWord('a\\b', 'argument')).toBe('"a\\\\b"');
    expect(systemdQuoteWord('', 'argument')).toBe('""');
    expect(systemdQuoteWord("it's", 'argument')).toBe('"it\'s"');
  });

  it('doubles % everywhere, $ only in arguments, and escapes a lone ;', () => {
    expect(systemdQuoteWord('50%', 'argument')).toBe('50%%');
    expect(systemdQuoteWord('/opt/50%/x', 'executable')).toBe('/opt/50%%/x');
    expect(systemdQuoteWord('$HOME', 'argument')).toBe('"$$HOME"');
    // systemd uses the executable word verbatim for execve: `$$` there would be two dollars.
    expect(systemdQuoteWord('/opt/a$b/x', 'executable')).toBe('"/opt/a$b/x"');
    expect(systemdQuoteWord(';', 'argument')).toBe('\\;');
  });

  it('builds a whole ExecStart value', () => {
    expect(systemdCommandLine('/opt/acme cli/acmecli', ['renew', '--config-dir', '/etc/acme certs', '--quiet'])).toBe(
      '"/opt/acme cli/acmecli" renew --config-dir "/etc/acme certs" --quiet',
    );
  });

  it('refuses control characters, which would end the unit line', () => {
    expect(() => systemdQuoteWord('a\nExecStartPre=/bin/evil', 'argument')).toThrow(UsageError);
  });
});

describe('sh and cron quoting', () => {
  it('single-quotes what sh would interpret', () => {
    expect(shQuote('/usr/bin/acmecli')).toBe('/usr/bin/acmecli');
    expect(shQuote('/etc/acme certs')).toBe("'/etc/acme certs'");
    expect(shQuote("o'neil")).toBe("'o'\\''neil'");
    expect(shQuote('')).toBe("''");
    expect(shQuote('$(id)')).toBe("'$(id)'");
  });

  it('escapes % for cron, which would turn it into a newline', () => {
    expect(cronCommandLine(['/usr/bin/acmecli', 'renew', '--server', 'https://ca/x%2Fy'])).toBe(
      '/usr/bin/acmecli renew --server https://ca/x\\%2Fy',
    );
  });

  describe('round trip through a real /bin/sh', () => {
    let dir = '';
    let printer = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'acmecli-sh-'));
      await mkdir(join(dir, "dir with 'quote' & space"));
      printer = join(dir, "dir with 'quote' & space", 'print-args');
      await writeFile(printer, '#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done\n');
      await chmod(printer, 0o755);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('hands every tricky argument to the program unchanged', () => {
      const line = cronCommandLine([printer, ...TRICKY]);
      // What cron does before running the line with /bin/sh -c: `\%` becomes `%`.
      const asCronRunsIt = line.replace(/\\%/g, '%');
      const result = spawnSync('/bin/sh', ['-c', `${asCronRunsIt} # acmecli renew`], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.stdout.split('\0').slice(0, -1)).toEqual(TRICKY);
    });
  });
});

describe('Windows quoting', () => {
  it('quotes per the C runtime rules, doubling only backslashes before a quote', () => {
    expect(windowsQuoteArg('renew')).toBe('renew');
    expect(windowsQuoteArg('')).toBe('""');
    expect(windowsQuoteArg('C:\\Program Files\\x')).toBe('"C:\\Program Files\\x"');
    expect(windowsQuoteArg('C:\\dir with space\\')).toBe('"C:\\dir with space\\\\"');
    expect(windowsQuoteArg('say "hi"')).toBe('"say \\"hi\\""');
    expect(windowsQuoteArg('C:\\no\\space\\')).toBe('C:\\no\\space\\');
  });

  it('round-trips every tricky argument through CommandLineToArgvW rules', () => {
    for (const arg of TRICKY) {
      expect(parseWindowsArgs(`prog ${windowsQuoteArg(arg)}`)).toEqual(['prog', arg]);
    }
    expect(parseWindowsArgs(`prog ${TRICKY.map(windowsQuoteArg).join(' ')}`)).toEqual(['prog', ...TRICKY]);
  });

  it('quotes a program path with spaces plainly (paths cannot hold quotes)', () => {
    expect(windowsCommandLine('C:\\Program Files\\acmecli\\acmecli.exe', ['renew', '--quiet'])).toBe(
      '"C:\\Program Files\\acmecli\\acmecli.exe" renew --quiet',
    );
    expect(() => windowsCommandLine('C:\\a"b.exe', [])).toThrow(UsageError);
  });

  it('caret-escapes every cmd.exe metacharacter, so cmd passes the line through unchanged', () => {
    const line = TRICKY.map(windowsQuoteArg).join(' ');
    const escaped = cmdEscape(line);
    expect(escaped).not.toMatch(/(^|[^^])[&|<>()%!"]/);
    expect(cmdUnescape(escaped)).toBe(line);
    expect(cmdEscape('"a b" 50% x&y')).toBe('^"a b^" 50^% x^&y');
  });
});
