/**
 * Runs the built CLI as a user would: a child process with its own argv, environment and
 * config dir. ACMECLI_BIN points the same tests at a single binary (issue: single binaries);
 * ACMECLI_CHILD_PATH, when set, is the children's PATH (scripts/test-binary.mjs gives one that
 * holds every system tool but no `node`, to show the binary needs none).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const BUNDLE_PATH = join(REPO_ROOT, 'dist', 'acmecli.cjs');

export interface CliResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CliRunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/** The command that starts acmecli: the single binary when ACMECLI_BIN is set, else node + bundle. */
export function cliCommand(): { file: string; prefix: string[] } {
  const bin = process.env.ACMECLI_BIN;
  if (bin) return { file: bin, prefix: [] };
  return { file: process.execPath, prefix: [BUNDLE_PATH] };
}

/** The PATH acmecli's child processes get. */
export function childPath(): string | undefined {
  return process.env.ACMECLI_CHILD_PATH || process.env.PATH;
}

export function runCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  const { file, prefix } = cliCommand();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...prefix, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: childPath(), HOME: process.env.HOME, LANG: 'C.UTF-8', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, stdout, stderr, durationMs: Date.now() - started });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Spawns without waiting, for concurrency and crash tests. */
export function spawnCli(args: readonly string[], options: CliRunOptions = {}) {
  const { file, prefix } = cliCommand();
  return spawn(file, [...prefix, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { PATH: childPath(), HOME: process.env.HOME, LANG: 'C.UTF-8', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
