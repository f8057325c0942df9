/**
 * Quoting for the three places a scheduled job's command line is written: a systemd `ExecStart=`,
 * a cron line (run by /bin/sh), and a Windows command line (Task Scheduler `/TR`, then cmd.exe
 * when schtasks itself is started through `runCommand`). Each target has its own rules; getting
 * one wrong only shows up twice a day in a log nobody reads, so every rule is tested.
 */
import { UsageError } from '../errors.js';

/** Control characters (newlines above all) would end a unit line or a crontab entry early. */
const CONTROL = /[\u0000-\u001f\u007f]/;

export function assertNoControlCharacters(arg: string, what = 'argument'): void {
  if (CONTROL.test(arg)) {
    throw new UsageError(`${what} ${JSON.stringify(arg)} contains a control character and cannot be scheduled`);
  }
}

const SYSTEMD_PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One word of a systemd command line (systemd.service "Command lines", systemd.syntax "Quoting").
 * `%` starts a specifier everywhere, even inside quotes, so it is always doubled. `$` starts a
 * variable in arguments but not in the executable path (systemd uses the first word verbatim for
 * execve; checked with systemd-analyze verify), so it is doubled only in arguments. A lone `;`
 * separates commands and must be written `\;`.
 */
export function systemdQuoteWord(word: string, position: 'executable' | 'argument'): string {
  assertNoControlCharacters(word);
  if (word === ';') return '\\;';
  let escaped = word.replace(/%/g, '%%');
  if (position === 'argument') escaped = escaped.replace(/\$/g, '$$$$');
  if (SYSTEMD_PLAIN.test(word)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `ExecStart=` value for an absolute executable and its arguments. */
export function systemdCommandLine(executable: string, args: readonly string[]): string {
  return [systemdQuoteWord(executable, 'executable'), ...args.map((arg) => systemdQuoteWord(arg, 'argument'))].join(
    ' ',
  );
}

const SH_PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX sh: single quotes keep everything literal; a `'` is closed, escaped, reopened. */
export function shQuote(word: string): string {
  assertNoControlCharacters(word);
  if (SH_PLAIN.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * A command for a crontab or /etc/cron.d line. cron turns every unescaped `%` in the command into
 * a newline (crontab(5)) and removes the backslash of `\%`, so `%` is escaped after sh quoting;
 * the shell then sees a plain `%`.
 */
export function cronCommandLine(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ').replace(/%/g, '\\%');
}

/**
 * One argument as the Microsoft C runtime (and CommandLineToArgvW) splits a command line: quotes
 * around arguments with whitespace or quotes, `\"` for a quote, and backslashes doubled only where
 * they precede a quote (so `C:\dir\` quoted becomes `"C:\dir\\"`).
 */
export function windowsQuoteArg(arg: string): string {
  assertNoControlCharacters(arg);
  if (arg !== '' && !/[ \t"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const ch of arg) {
    if (ch === '\\') {
      backslashes++;
      continue;
    }
    if (ch === '"') out += '\\'.repeat(backslashes * 2 + 1) + '"';
    else out += '\\'.repeat(backslashes) + ch;
    backslashes = 0;
  }
  return `${out}${'\\'.repeat(backslashes * 2)}"`;
}

/**
 * A Windows program path at the start of a command line. Paths cannot contain `"`, and the
 * program name is split by the launcher's own rule (up to the closing quote), not the C runtime's,
 * so plain quotes are enough and backslashes stay single.
 */
export function windowsQuoteProgram(path: string): string {
  assertNoControlCharacters(path, 'path');
  if (path.includes('"')) throw new UsageError(`a Windows path cannot contain a quote: ${path}`);
  return /[ \t]/.test(path) ? `"${path}"` : path;
}

export function windowsCommandLine(program: string, args: readonly string[]): string {
  return [windowsQuoteProgram(program), ...args.map(windowsQuoteArg)].join(' ');
}

/**
 * Escapes a C-runtime command line for cmd.exe, as cross-spawn does: a caret before every cmd
 * metacharacter, quotes included, so cmd never enters its quoted mode and removes every caret,
 * handing the program exactly the command line built by `windowsQuoteArg`. `%` needs the caret
 * too: `%NAME^%` names no variable, so cmd leaves it alone before dropping the caret.
 */
export function cmdEscape(commandLine: string): string {
  return commandLine.replace(/[()%!^"<>&|]/g, '^$&');
}
