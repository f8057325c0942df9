/**
 * The CA's renewal window (RFC 9773) as last fetched, kept beside the certificate in `ari.json`
 * so a `renew` run only asks the CA again when the CA's Retry-After has passed: a timer over a
 * thousand certificates with nothing due stays local. The certificate's validity rides along,
 * so such a run does not parse a thousand certificates either.
 */
import { LocalError } from '../errors.js';
import { atomicWrite } from './atomic-write.js';
import { childPath } from './layout.js';
import {
  NewerFormatError,
  parseStored,
  refuseToReplaceNewer,
  serializeStored,
  UNCHANGED,
  type StoredFormat,
} from './stored-json.js';
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

/** ari.json's format; entries without the field (written before it existed) are version 0, whose fields are version 1's. */
export const ARI_CACHE_VERSION = 1;

/**
 * Checks an entry as strictly as renewal.json: every field of its type, every time a date. Throws
 * LocalError naming the file and the field.
 */
export function parseAriCacheEntry(text: string, source: string): AriCacheEntry {
  return parseStored(ARI_CACHE_FORMAT, text, source);
}

export const ARI_CACHE_FORMAT: StoredFormat<AriCacheEntry> = {
  version: ARI_CACHE_VERSION,
  migrations: { 0: UNCHANGED },
  check(stored, field) {
    const entry: AriCacheEntry = {
      certificateId: field.string(stored.certificateId, 'certificateId'),
      server: field.string(stored.server, 'server'),
      fetchedAt: field.date(stored.fetchedAt, 'fetchedAt'),
      nextCheckAt: field.date(stored.nextCheckAt, 'nextCheckAt'),
    };
    if (stored.window !== undefined) {
      const window = field.object(stored.window, 'window');
      entry.window = { start: field.date(window.start, 'window.start'), end: field.date(window.end, 'window.end') };
    }
    if (stored.explanationURL !== undefined)
      entry.explanationURL = field.string(stored.explanationURL, 'explanationURL');
    if (stored.renewAt !== undefined) entry.renewAt = field.date(stored.renewAt, 'renewAt');
    if (stored.certificate !== undefined) {
      const certificate = field.object(stored.certificate, 'certificate');
      entry.certificate = {
        sha256: field.sha256(certificate.sha256, 'certificate.sha256'),
        notBefore: field.date(certificate.notBefore, 'certificate.notBefore'),
        notAfter: field.date(certificate.notAfter, 'certificate.notAfter'),
      };
    }
    return entry;
  },
};

/**
 * The cached entry of the lineage in `lineageDir` (LineagePaths.dir), or undefined when absent.
 * A damaged entry (a crash can leave one: writes are not durable) is only a cache: it is passed to
 * `onInvalid` and treated as absent, so the CA is asked again. Refused like every file of the
 * config dir when another user could have written it (trust.ts), and as every stored file when a
 * newer acmecli wrote it (NewerFormatError): asking again would overwrite it.
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
    if (!(error instanceof LocalError) || error instanceof NewerFormatError) throw error;
    onInvalid?.(error);
    return undefined;
  }
}

/** Refuses (LocalError) an entry readAriCache would not read back, and to replace one a newer acmecli wrote. */
export async function writeAriCache(lineageDir: string, entry: AriCacheEntry): Promise<void> {
  const path = childPath(lineageDir, ARI_CACHE_FILE);
  const text = serializeStored(ARI_CACHE_FORMAT, entry, path);
  refuseToReplaceNewer(ARI_CACHE_FORMAT, path);
  // Not durable: a cache lost in a crash is asked for again, and a first renew over a thousand
  // certificates would otherwise spend seconds in fsync.
  await atomicWrite(path, text, { mode: 0o644, durable: false });
}
