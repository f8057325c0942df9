/**
 * Repository paths. The scripts run bundled from .cache/run-ts/ (scripts/run-ts.mjs), so the root
 * is found by walking up to acmecli's package.json rather than from the source file's location.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'acmecli') return dir;
      } catch {
        // Not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find acmecli's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const REPO_ROOT = findRoot();
export const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
export const BUNDLE = join(REPO_ROOT, 'dist', 'acmecli.cjs');
export const LEGO = join(REPO_ROOT, '.cache', 'lego-sid', 'root', 'usr', 'bin', 'lego');
