import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

export interface StartDaemonOptions {
  /** Short name for messages and the log file name (`<name>.log`). */
  name: string;
  command: string;
  args?: readonly string[];
  /** Merged over process.env; an `undefined` value removes the variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Folder for the log file; when omitted, a fresh temp dir that stop() removes. */
  logDir?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr of the daemon, interleaved. */
  readonly logPath: string;
  /** The command line, for messages. */
  readonly commandLine: string;
  /** Set once the daemon has exited (on its own or through stop()). */
  readonly exitStatus: ExitStatus | undefined;
  logTail(lines?: number): string;
  /** SIGTERM the whole process group, SIGKILL it when it lingers; resolves once the group is gone. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export interface WaitUntilOptions {
  timeoutMs: number;
  /** What is being waited for, as in "waiting for <what>". */
  what: string;
  /** First poll interval; it grows up to maxIntervalMs. */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** Daemons whose early exit ends the wait at once, and whose log tails go into the error. */
  daemons?: readonly Daemon[];
}

/**
 * Polls `check` until it returns a truthy value (which is returned). A throw counts as "not yet";
 * the last one is reported if time runs out.
 */
export async function waitUntil<T>(check: () => T | Promise<T>, options: WaitUntilOptions): Promise<NonNullable<T>> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let interval = options.intervalMs ?? 10;
  const maxInterval = options.maxIntervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    const dead = options.daemons?.find((daemon) => daemon.exitStatus !== undefined);
    if (dead) {
      throw new Error(
        `${dead.name} exited (${describeExit(dead.exitStatus)}) while waiting for ${options.what}` +
          `${describeLastError(lastError)}\n${logTails(options.daemons ?? [])}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${Date.now() - started} ms waiting for ${options.what}${describeLastError(lastError)}` +
          (options.daemons?.length ? `\n${logTails(options.daemons)}` : ''),
      );
    }
    await delay(Math.min(interval, Math.max(1, deadline - Date.now())));
    interval = Math.min(interval * 2, maxInterval);
  }
}

function describeLastError(error: unknown): string {
  if (error === undefined) return '';
  return `; last attempt: ${error instanceof Error ? error.message : inspect(error)}`;
}

function describeExit(status: ExitStatus | undefined): string {
  if (!status) return 'still running';
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}

function logTails(daemons: readonly Daemon[]): string {
  return daemons
    .map((daemon) => `--- last lines of ${daemon.logPath} (${daemon.commandLine}) ---\n${daemon.logTail()}`)
    .join('\n');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `acmecli-${prefix}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

function readTail(path: string, lines: number): string {
  const maxBytes = 64 * 1024;
  try {
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    try {
      const length = Math.min(size, maxBytes);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return `(log unreadable: ${error instanceof Error ? error.message : String(error)})`;
  }
}

// Daemons still running when the worker goes away would outlive the test run (they are in their
// own sessions, so nothing else kills them): kill their groups on the way out.
const liveGroups = new Set<number>();
let exitHooksInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** `/proc/<pid>/stat` fields after the command name: [state, ppid, pgrp, ...]. */
function procStat(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` runs. A zombie does not count: this machine's PID 1 reaps orphans late, and
 * kill(pid, 0) succeeds on zombies.
 */
export function processIsAlive(pid: number): boolean {
  if (process.platform === 'linux') {
    const stat = procStat(pid);
    return stat !== undefined && stat[0] !== 'Z' && stat[0] !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Whether any non-zombie process is left in process group `pgid`. */
function groupHasLiveMembers(pgid: number): boolean {
  if (process.platform !== 'linux') {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat && stat[2] === String(pgid) && stat[0] !== 'Z' && stat[0] !== 'X') return true;
  }
  return false;
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
      liveGroups.clear();
      process.removeListener(signal, onSignal);
      // Keep the default behaviour (terminate) unless someone else handles the signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Starts `command` in a session and process group of its own (so stop() can take down anything it
 * forks), with stdout and stderr appended to a log file. Resolves once the process exists; readiness
 * is the caller's business (use waitUntil with `daemons: [daemon]`).
 */
export async function startDaemon(options: StartDaemonOptions): Promise<Daemon> {
  const ownsLogDir = options.logDir === undefined;
  const logDir = options.logDir ?? (await makeTempDir(options.name));
  const logPath = join(logDir, `${options.name}.log`);
  const args = options.args ?? [];
  const commandLine = [options.command, ...args].map(quoteForDisplay).join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }

  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(options.command, args, {
      cwd: options.cwd ?? logDir,
      env,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`could not start ${commandLine}: ${error.message}`)));
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`no PID for ${commandLine}`);
  installExitHooks();
  liveGroups.add(pid);
  // A forgotten stop() must not keep the test worker alive; the exit hooks still kill the group.
  child.unref();

  let exitStatus: ExitStatus | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      resolve();
    });
  });

  const waitForExit = async (ms: number): Promise<boolean> => {
    if (exitStatus) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  };

  const groupGone = async (ms: number): Promise<boolean> => {
    try {
      await waitUntil(() => !groupHasLiveMembers(pid), { timeoutMs: ms, what: `process group ${pid} to vanish` });
      return true;
    } catch {
      return false;
    }
  };

  let stopping: Promise<void> | undefined;
  const daemon: Daemon = {
    name: options.name,
    pid,
    logPath,
    commandLine,
    get exitStatus() {
      return exitStatus;
    },
    logTail: (lines = 30) => readTail(logPath, lines),
    stop: ({ timeoutMs = 5_000 } = {}) => {
      stopping ??= (async () => {
        killGroup(pid, 'SIGTERM');
        if (!(await waitForExit(timeoutMs)) || !(await groupGone(1_000))) {
          killGroup(pid, 'SIGKILL');
          if (!(await waitForExit(2_000)) || !(await groupGone(2_000))) {
            throw new Error(`${options.name} (process group ${pid}) survived SIGKILL\n${readTail(logPath, 30)}`);
          }
        }
        liveGroups.delete(pid);
        if (ownsLogDir && process.env.ACMECLI_KEEP_TESTBED !== '1') await removeTempDir(logDir);
      })();
      return stopping;
    },
  };
  return daemon;
}

function quoteForDisplay(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a short-lived command (openssl, dig, nsupdate) with a time limit; rejects with its stderr
 * when it fails.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      {
        timeout: options.timeoutMs ?? 15_000,
        killSignal: 'SIGKILL',
        cwd: options.cwd,
        env: options.env,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const commandLine = [command, ...args].map(quoteForDisplay).join(' ');
          reject(new Error(`${commandLine} failed: ${error.message}\n${stderr}${stdout}`.trimEnd()));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}
