/** Test helper: run the openssl binary as an independent implementation to check our output. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpensslResult {
  stdout: string;
  stderr: string;
}

/** Runs openssl in `cwd`; throws with its stderr when it exits non-zero. */
export function openssl(args: readonly string[], cwd: string, input?: string): OpensslResult {
  const result = spawnSync('openssl', args, { cwd, input, encoding: 'utf8' });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

export interface TempDir {
  path: string;
  file(name: string): string;
  remove(): void;
}

export function makeTempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `acmecli-${prefix}-`));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}
