import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh directory per test, removed afterwards. */
export function useTempDir(): () => string {
  let dir: string | undefined;
  const made: string[] = [];
  afterEach(async () => {
    for (const d of made.splice(0)) await rm(d, { recursive: true, force: true });
    dir = undefined;
  });
  return () => {
    if (dir === undefined) throw new Error('call makeTempDir() in the test first');
    return dir;
  };
}

export async function makeTempDir(prefix = 'acmecli-store-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
