/**
 * Reading commander's parsed values, by flag, into typed values: the helpers every command's parse
 * step is made of. A value of the wrong kind is a UsageError naming the flag (exit 2).
 */
import { Option } from 'commander';
import { UsageError } from '../errors.js';
import { DEFAULT_DNS01_SETTINGS, type Dns01Settings } from '../challenges/dns01/settings.js';
import type { CommandLine } from './action.js';

/** commander's attribute name of a long flag: `--cert-name` → certName. */
export function attributeOf(flags: string): string {
  return new Option(flags).attributeName();
}

/** The parse step of a command that takes no options of its own. */
export function noInput(): undefined {
  return undefined;
}

/** A value option: its text, or undefined when not given. */
export function stringOption(line: CommandLine, flag: string): string | undefined {
  const value = line.values[attributeOf(flag)];
  if (value === undefined || typeof value === 'string') return value;
  throw new UsageError(`${flag} needs a value`);
}

/** A repeatable option: every value given, in order (none when absent). */
export function listOption(line: CommandLine, flag: string): string[] {
  const value = line.values[attributeOf(flag)];
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  throw new UsageError(`${flag} needs a value`);
}

/** A switch: given or not. */
export function flagOption(line: CommandLine, flag: string): boolean {
  const value = line.values[attributeOf(flag)];
  if (value === undefined || typeof value === 'boolean') return value === true;
  throw new UsageError(`${flag} takes no value`);
}

export function parseSeconds(text: string, flag: string, { allowZero = true } = {}): number {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed) || (!allowZero && Number(trimmed) === 0)) {
    throw new UsageError(
      `${flag} needs a number of seconds${allowZero ? '' : ' above 0'}, got ${JSON.stringify(text)}`,
    );
  }
  return Number(trimmed);
}

export function parseDays(text: string, flag = '--days'): number {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) throw new UsageError(`${flag} needs a whole number of days, got ${JSON.stringify(text)}`);
  return Number(trimmed);
}

/** `--days N` of renew and certificates. */
export function daysOption(line: CommandLine): { days?: number } {
  const days = stringOption(line, '--days');
  return days === undefined ? {} : { days: parseDays(days) };
}

/** The dns-01 options of options.ts addDns01Options. */
export function parseDns01Settings(line: CommandLine): Dns01Settings {
  const settings: Dns01Settings = { ...DEFAULT_DNS01_SETTINGS };
  const challengeAlias = stringOption(line, '--challenge-alias');
  if (challengeAlias !== undefined) settings.challengeAlias = challengeAlias.replace(/\.$/, '').toLowerCase();
  const resolvers = listOption(line, '--dns-resolver');
  if (resolvers.length > 0)
    settings.resolvers = resolvers
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
  const timeout = stringOption(line, '--dns-propagation-timeout');
  if (timeout !== undefined)
    settings.propagationTimeoutMs = parseSeconds(timeout, '--dns-propagation-timeout', { allowZero: false }) * 1000;
  const wait = stringOption(line, '--dns-propagation-wait');
  if (wait !== undefined) settings.propagationWaitMs = parseSeconds(wait, '--dns-propagation-wait') * 1000;
  if (flagOption(line, '--skip-dns-propagation-check')) settings.skipPropagationCheck = true;
  return settings;
}
