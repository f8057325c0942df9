/**
 * The CA's renewal window (RFC 9773) as last fetched, kept beside the certificate in `ari.json`
 * so a `renew` run only asks the CA again when the CA's Retry-After has passed: a timer over a
 * thousand certificates with nothing due stays local. The certificate's validity rides along,
 * so such a run does not parse a thousand certificates either.
 */
import { readFileSync } from 'node:fs';
import { atomicWrite, codeOf } from './atomic-write.js';
import { childPath } from './layout.js';

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

function isCachedCertificate(value: unknown): value is CachedCertificate {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.sha256 === 'string' && typeof v.notBefore === 'string' && typeof v.notAfter === 'string' &&
    !Number.isNaN(Date.parse(v.notBefore)) && !Number.isNaN(Date.parse(v.notAfter));
}

function isEntry(value: unknown): value is AriCacheEntry {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.certificateId === 'string' && typeof v.server === 'string' && typeof v.fetchedAt === 'string' &&
    typeof v.nextCheckAt === 'string' && !Number.isNaN(Date.parse(v.nextCheckAt)) &&
    (v.certificate === undefined || isCachedCertificate(v.certificate));
}

/**
 * The cached entry of the lineage in `lineageDir` (LineagePaths.dir), or undefined when absent or
 * unreadable (it is only a cache).
 */
export async function readAriCache(lineageDir: string): Promise<AriCacheEntry | undefined> {
  try {
    // Sync: one small file per certificate, and renew reads a thousand of them in a row.
    const value: unknown = JSON.parse(readFileSync(childPath(lineageDir, ARI_CACHE_FILE), 'utf8'));
    return isEntry(value) ? value : undefined;
  } catch (error) {
    if (codeOf(error) === 'ENOENT' || error instanceof SyntaxError) return undefined;
    return undefined;
  }
}

export async function writeAriCache(lineageDir: string, entry: AriCacheEntry): Promise<void> {
  // Not durable: a cache lost in a crash is asked for again, and a first renew over a thousand
  // certificates would otherwise spend seconds in fsync.
  await atomicWrite(childPath(lineageDir, ARI_CACHE_FILE), `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o644, durable: false });
}
