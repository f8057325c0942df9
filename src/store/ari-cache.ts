/**
 * The CA's renewal window (RFC 9773) as last fetched, kept beside the certificate in `ari.json`
 * so a `renew` run only asks the CA again when the CA's Retry-After has passed: a timer over a
 * thousand certificates with nothing due stays local. The certificate's validity rides along,
 * so such a run does not parse a thousand certificates either.
 */
import { LocalError } from '../errors.js';
import { atomicWrite } from './atomic-write.js';
import { childPath } from './layout.js';
import { readTrustedFile } from './trust.js';

export const ARI_CACHE_FILE = 'ari.json';

export interface AriCacheEntry {
  /** The ARI certificate identifier this entry is about; a renewed certificate has another. */
  certificateId: string;
  server: string;
  /** Absent when the CA offers no renewal information. */
  window?: { start: string; end: string };
  explanationURL?: string;
  /** The time picked once within the window (RFC 9773 §4.2). */
  renewAt?: string;
  fetchedAt: string;
  /** Do not ask the CA again before this (its Retry-After). */
  nextCheckAt: string;
  /**
   * The certificate the entry was written for: the SHA-256 of its PEM (what its archive manifest
   * records) and its validity. Valid for as long as the certificate is the same, whatever
   * nextCheckAt says. Absent in entries written by older versions.
   */
  certificate?: CachedCertificate;
}

export interface CachedCertificate {
  sha256: string;
  notBefore: string;
  notAfter: string;
}

/**
 * Checks an entry as strictly as renewal.json: every field of its type, every time a date. Throws
 * LocalError naming the file and the field.
 */
export function parseAriCacheEntry(text: string, source: string): AriCacheEntry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new LocalError(`${source}: ${text.trim() === '' ? 'the file is empty' : 'not valid JSON'}`, { cause: error });
  }
  const root = object(value, source, '');
  const entry: AriCacheEntry = {
    certificateId: string(root.certificateId, source, 'certificateId'),
    server: string(root.server, source, 'server'),
    fetchedAt: date(root.fetchedAt, source, 'fetchedAt'),
    nextCheckAt: date(root.nextCheckAt, source, 'nextCheckAt'),
  };
  if (root.window !== undefined) {
    const window = object(root.window, source, 'window');
    entry.window = { start: date(window.start, source, 'window.start'), end: date(window.end, source, 'window.end') };
  }
  if (root.explanationURL !== undefined) entry.explanationURL = string(root.explanationURL, source, 'explanationURL');
  if (root.renewAt !== undefined) entry.renewAt = date(root.renewAt, source, 'renewAt');
  if (root.certificate !== undefined) {
    const certificate = object(root.certificate, source, 'certificate');
    const sha256 = string(certificate.sha256, source, 'certificate.sha256');
    if (!/^[0-9a-f]{64}$/.test(sha256)) fail(source, 'certificate.sha256', 'must be a SHA-256 in hex');
    entry.certificate = {
      sha256,
      notBefore: date(certificate.notBefore, source, 'certificate.notBefore'),
      notAfter: date(certificate.notAfter, source, 'certificate.notAfter'),
    };
  }
  return entry;
}

function fail(source: string, field: string, why: string): never {
  throw new LocalError(`${source}: ${field === '' ? 'top level' : `field "${field}"`} ${why}`);
}

function object(value: unknown, source: string, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(source, field, 'must be an object');
  return value as Record<string, unknown>;
}

function string(value: unknown, source: string, field: string): string {
  if (typeof value !== 'string') fail(source, field, value === undefined ? 'is missing' : 'must be a string');
  return value;
}

function date(value: unknown, source: string, field: string): string {
  const text = string(value, source, field);
  if (Number.isNaN(Date.parse(text))) fail(source, field, `must be a date, not ${JSON.stringify(text.slice(0, 40))}`);
  return text;
}

/**
 * The cached entry of the lineage in `lineageDir` (LineagePaths.dir), or undefined when absent.
 * A damaged entry (a crash can leave one: writes are not durable) is only a cache: it is passed to
 * `onInvalid` and treated as absent, so the CA is asked again. Refused like every file of the
 * config dir when another user could have written it (trust.ts).
 */
export async function readAriCache(
  lineageDir: string,
  onInvalid?: (error: LocalError) => void,
): Promise<AriCacheEntry | undefined> {
  const path = childPath(lineageDir, ARI_CACHE_FILE);
  // Sync underneath: one small file per certificate, and renew reads a thousand of them in a row.
  const text = readTrustedFile(path);
  if (text === undefined) return undefined;
  try {
    return parseAriCacheEntry(text, path);
  } catch (error) {
    if (!(error instanceof LocalError)) throw error;
    onInvalid?.(error);
    return undefined;
  }
}

/** Refuses (LocalError) an entry readAriCache would not read back. */
export async function writeAriCache(lineageDir: string, entry: AriCacheEntry): Promise<void> {
  const path = childPath(lineageDir, ARI_CACHE_FILE);
  const text = `${JSON.stringify(entry, null, 2)}\n`;
  parseAriCacheEntry(text, path);
  // Not durable: a cache lost in a crash is asked for again, and a first renew over a thousand
  // certificates would otherwise spend seconds in fsync.
  await atomicWrite(path, text, { mode: 0o644, durable: false });
}
