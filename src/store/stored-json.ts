/**
 * The JSON files acmecli writes into its config dir (account.json, renewal.json, ari.json,
 * manifest.json) share one mechanism: each carries a format `version`, is checked field by field
 * on every read (FieldChecker; every error names the file and the field), and is migrated from
 * older versions in memory, so it is stored in the current version by the next write. A file of
 * a newer version is refused (NewerFormatError) and never rewritten by this acmecli.
 *
 * Reading and writing the files stays with their stores: reads through trust.ts, writes through
 * atomic-write.ts.
 */
import { LocalError, UsageError } from '../errors.js';
import { validateAccountName } from './layout.js';
import { readTrustedFile } from './trust.js';

/** One step of a migration: a document of version n in, the same facts as version n + 1 out. */
export type Migration = (stored: Record<string, unknown>) => Record<string, unknown>;

export interface StoredFormat<T> {
  /** The version this acmecli writes, and the newest it reads. */
  readonly version: number;
  /**
   * The step from version n to n + 1, keyed by n, for every n below `version`. A file without a
   * `version` field (written before it existed) is version 0.
   */
  readonly migrations: Readonly<Record<number, Migration>>;
  /** Checks a document of the current version and returns what the program uses. */
  check(stored: Record<string, unknown>, field: FieldChecker): T;
}

/** For version 0 of a file that only gained the `version` field: its fields were already those of version 1. */
export const UNCHANGED: Migration = (stored) => stored;

/** A file written by a newer acmecli: read by none of this one's commands, and never overwritten. */
export class NewerFormatError extends LocalError {}

/** Parses and checks a stored file's text; `source` (its path) is named in every error. */
export function parseStored<T>(format: StoredFormat<T>, text: string, source: string): T {
  let value: unknown;
  try {
    value = JSON.parse(stripBom(text));
  } catch (error) {
    const why = text.trim() === '' ? 'the file is empty' : 'not valid JSON (truncated or hand-edited?)';
    throw new LocalError(`${source}: ${why}`, { cause: error });
  }
  const field: FieldChecker = new FieldChecker(source);
  let stored = field.object(value, '');
  for (let version = storedVersion(format, stored, field); version < format.version; version++) {
    const migrate = format.migrations[version];
    if (migrate === undefined) field.fail('version', `is ${version}, a format version acmecli never wrote`);
    stored = migrate(stored);
  }
  return format.check(stored, field);
}

/**
 * The text to store for `value`, in the current version: checked with the reader's own rules
 * first (LocalError naming `source` and the field), so no file is written that a later run could
 * not read. Only what the check keeps is written.
 */
export function serializeStored<T extends object>(format: StoredFormat<T>, value: T, source: string): string {
  const { version: _ignored, ...fields } = value as Record<string, unknown>;
  const current = { version: format.version, ...fields };
  const { version: _checked, ...checked } = parseStored(format, JSON.stringify(current), source) as Record<
    string,
    unknown
  >;
  return `${JSON.stringify({ version: format.version, ...checked }, null, 2)}\n`;
}

/**
 * Throws NewerFormatError when the file at `path` exists and is of a newer version than `format`:
 * call before replacing it, so an older acmecli never overwrites what a newer one wrote. A file
 * that cannot be parsed is left to the write (it is replaced as before).
 */
export function refuseToReplaceNewer(format: StoredFormat<unknown>, path: string): void {
  const text = readTrustedFile(path);
  if (text === undefined) return;
  let value: unknown;
  try {
    value = JSON.parse(stripBom(text));
  } catch {
    return;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const version = (value as Record<string, unknown>).version;
    if (typeof version === 'number' && version > format.version) throw newerFormat(format, path, version);
  }
}

function storedVersion(format: StoredFormat<unknown>, stored: Record<string, unknown>, field: FieldChecker): number {
  const version = stored.version;
  if (version === undefined) return 0;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0)
    field.fail('version', `must be a format version number, not ${describe(version)}`);
  if (version > format.version) throw newerFormat(format, field.source, version);
  return version;
}

function newerFormat(format: StoredFormat<unknown>, source: string, version: number): NewerFormatError {
  return new NewerFormatError(
    `${source}: field "version" is ${version}, this acmecli reads version ${format.version}`,
    { hint: 'it was written by a newer acmecli' },
  );
}

/**
 * Values already found valid in this run: a thousand lineages name the same server and account,
 * and URL parsing is slow in the binaries' interpreter-only V8.
 */
const validUrls = new Set<string>();
const validAccountNames = new Set<string>();

/** Checks one field of a stored file at a time; every failure is a LocalError naming the file and the field. */
export class FieldChecker {
  constructor(readonly source: string) {}

  fail(field: string, why: string): never {
    const where = field === '' ? 'top level' : `field "${field}"`;
    throw new LocalError(`${this.source}: ${where} ${why}`);
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(
        field,
        value === undefined ? 'is missing (must be an object)' : `must be an object, not ${describe(value)}`,
      );
    }
    return value as Record<string, unknown>;
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) {
      this.fail(field, value === undefined ? 'is missing (must be a list)' : `must be a list, not ${describe(value)}`);
    }
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') {
      this.fail(
        field,
        value === undefined ? 'is missing (must be a string)' : `must be a string, not ${describe(value)}`,
      );
    }
    // Strings become paths, arguments and command lines: a NUL cannot be any of them.
    if (value.includes('\0')) this.fail(field, 'contains a NUL character');
    return value;
  }

  /** An http(s) URL (the transport refuses plain http except on loopback when it is used). */
  url(value: unknown, field: string): string {
    const text = this.string(value, field);
    if (validUrls.has(text)) return text;
    if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol))
      this.fail(field, `must be an http(s) URL, not ${JSON.stringify(text)}`);
    validUrls.add(text);
    return text;
  }

  /** A date as toISOString writes it, or any other form Date.parse reads. */
  date(value: unknown, field: string): string {
    const text = this.string(value, field);
    if (Number.isNaN(Date.parse(text))) this.fail(field, `must be a date, not ${JSON.stringify(text.slice(0, 40))}`);
    return text;
  }

  /** A SHA-256 digest in lower-case hex. */
  sha256(value: unknown, field: string): string {
    const text = this.string(value, field);
    if (!/^[0-9a-f]{64}$/.test(text)) this.fail(field, 'must be a SHA-256 in hex');
    return text;
  }

  positiveInteger(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      this.fail(
        field,
        value === undefined
          ? 'is missing (must be a positive whole number)'
          : `must be a positive whole number, not ${describe(value)}`,
      );
    }
    return value;
  }

  milliseconds(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      this.fail(
        field,
        value === undefined
          ? 'is missing (must be a number of milliseconds)'
          : `must be a number of milliseconds, not ${describe(value)}`,
      );
    }
    return value;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') {
      this.fail(
        field,
        value === undefined ? 'is missing (must be true or false)' : `must be true or false, not ${describe(value)}`,
      );
    }
    return value;
  }

  /** Checked as `--account` is (it names a directory). */
  accountName(value: unknown, field: string): string {
    const name = this.string(value, field);
    if (validAccountNames.has(name)) return name;
    try {
      validateAccountName(name);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      this.fail(field, error.message);
    }
    validAccountNames.add(name);
    return name;
  }
}

/** Editors on Windows may start a UTF-8 file with a byte-order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}
