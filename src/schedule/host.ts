/**
 * What every scheduler back end shares: the environment the operation runs in (injected, so tests
 * use a temp root directory and a fake runCommand), the result shapes, and small file and command
 * helpers that turn failures into one-line LocalErrors.
 */
import { codeOf, exists, stat } from '../store/fs.js';
import { posix } from 'node:path';
import { LocalError, messageOf } from '../errors.js';
import { CommandTimeoutError, type RunCommand } from '../hooks/run-command.js';

export type ScheduleKind = 'systemd' | 'systemd-user' | 'cron' | 'crontab' | 'schtasks';

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['systemd', 'systemd-user', 'cron', 'crontab', 'schtasks'];

export interface ScheduleEnvironment {
  platform: NodeJS.Platform;
  /** process.getuid?.(); undefined on Windows. */
  uid: number | undefined;
  env: Record<string, string | undefined>;
  /** process.execPath: the single binary, or node. */
  execPath: string;
  /** process.argv[1], absolute; the script node runs (ignored when isSea). */
  scriptPath: string | undefined;
  isSea: boolean;
  /** Prefix for every absolute POSIX path looked at or written ('/' normally; a temp dir in tests). */
  rootDir: string;
  runCommand: RunCommand;
  /** Picks the cron / Task Scheduler start time; Math.random by default. */
  random?: () => number;
}

export interface ScheduleStatus {
  installed: boolean;
  kind: ScheduleKind;
  /** Files written by install (none for crontab and schtasks, which keep their own storage). */
  files: string[];
  /** The job's command line as the scheduler has it (when not installed: what install would set). */
  command: string;
  /** systemd: the NEXT column of `systemctl list-timers`; Windows: "Next Run Time". */
  nextRun?: string;
  /** When it runs, in the scheduler's own terms (`OnCalendar=...`, `17 3,15 * * *`). */
  schedule?: string;
  /** Human notes: raw scheduler output, warnings (user timer without linger, npx cache path). */
  details?: string;
}

/** What removing one kind took away: files deleted, and notes for the user. */
export interface KindRemoval {
  files: string[];
  notes: string[];
}

export const ROOT_HINT = 'run as root, or as your user to get a user timer (or your own crontab)';
/** systemctl and schtasks may wait on their service manager. */
export const SYSTEMCTL_TIMEOUT_MS = 60_000;
export const SCHTASKS_TIMEOUT_MS = 60_000;
export const QUICK_TIMEOUT_MS = 30_000;

export function isRoot(env: ScheduleEnvironment): boolean {
  return env.uid === 0;
}

export async function systemdRunning(env: ScheduleEnvironment): Promise<boolean> {
  return (await isDirectory(hostPath(env, '/run/systemd/system'))) && (await onPath(env, 'systemctl'));
}

export async function onPath(env: ScheduleEnvironment, name: string): Promise<boolean> {
  for (const dir of (env.env['PATH'] ?? '').split(':')) {
    if (!dir.startsWith('/')) continue;
    try {
      if (exists(hostPath(env, posix.join(dir, name)))) return true;
    } catch {
      // A PATH directory this user cannot search is passed over, as the shell passes it over.
    }
  }
  return false;
}

export function hostPath(env: ScheduleEnvironment, absolute: string): string {
  return env.rootDir === '/' || env.rootDir === '' ? absolute : posix.join(env.rootDir, absolute);
}

export async function run(
  env: ScheduleEnvironment,
  command: string,
  timeoutMs: number,
  extraEnv?: Record<string, string>,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  try {
    return await env.runCommand({ command, timeoutMs, ...(extraEnv === undefined ? {} : { env: extraEnv }) });
  } catch (error) {
    if (error instanceof CommandTimeoutError) {
      throw new LocalError(`${command} did not finish within ${timeoutMs / 1000} s`, { cause: error });
    }
    throw error;
  }
}

export function firstLine(stderr: string, stdout: string, exitCode: number): string {
  const line = [stderr, stdout]
    .flatMap((text) => text.split('\n'))
    .map((text) => text.trim())
    .find((text) => text !== '');
  return line ?? `exit status ${exitCode}`;
}

export async function withRootHint<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const cause = error instanceof LocalError ? error.cause : error;
    const code = codeOf(cause);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new LocalError(messageOf(error), { hint: ROOT_HINT, cause });
    }
    throw error;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export function details(notes: readonly (string | undefined)[]): { details?: string } {
  const kept = notes.filter((note): note is string => note !== undefined && note !== '');
  return kept.length === 0 ? {} : { details: kept.join('\n') };
}

export function userName(env: ScheduleEnvironment): string {
  return env.env['USER'] ?? env.env['LOGNAME'] ?? (isRoot(env) ? 'root' : 'the current user');
}
