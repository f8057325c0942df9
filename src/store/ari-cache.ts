/**
 * The CA's renewal window (RFC 9773) as last fetched, kept beside the certificate in `ari.json`
 * so a `renew` run only asks the CA again when the CA's Retry-After has passed: a timer over a
 * thousand certificates with nothing due stays local.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite, codeOf } from './atomic-write.js';
import { lineagePaths } from './layout.js';

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
}

function isEntry(value: unknown): value is AriCacheEntry {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.certificateId === 'string' && typeof v.server === 'string' && typeof v.fetchedAt === 'string' &&
    typeof v.nextCheckAt === 'string' && !Number.isNaN(Date.parse(v.nextCheckAt));
}

/** The cached entry, or undefined when absent or unreadable (it is only a cache). */
export async function readAriCache(configDir: string, certName: string): Promise<AriCacheEntry | undefined> {
  try {
    // Sync: one small file per certificate, and renew reads a thousand of them in a row.
    const value: unknown = JSON.parse(readFileSync(join(lineagePaths(configDir, certName).dir, ARI_CACHE_FILE), 'utf8'));
    return isEntry(value) ? value : undefined;
  } catch (error) {
    if (codeOf(error) === 'ENOENT' || error instanceof SyntaxError) return undefined;
    return undefined;
  }
}

export async function writeAriCache(configDir: string, certName: string, entry: AriCacheEntry): Promise<void> {
  await atomicWrite(join(lineagePaths(configDir, certName).dir, ARI_CACHE_FILE), `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o644 });
}
