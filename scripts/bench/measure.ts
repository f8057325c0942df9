/**
 * One measured run of a command: wall time (hrtime around spawn → exit) and peak resident memory
 * (GNU time's %M, the child's ru_maxrss), with a hard timeout. The child runs in its own process
 * group, so a timeout kills everything it started (a standalone server, a hook) and nothing else.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface Command {
  file: string;
  args: string[];
  /** The complete environment (nothing is inherited implicitly). */
  env: Record<string, string>;
  cwd?: string;
  /** Exit codes that mean success for this workload (default [0]). */
  okCodes?: number[];
  /**
   * Runs before the command, in the same process: e.g. the tiny web server uacme's hook writes
   * into. Returns the stop function. Not timed.
   */
  around?: () => Promise<() => Promise<void>>;
  /**
   * Prepended in front of `/usr/bin/time`: e.g. nsenter into the mount namespace that gives uacme
   * its trust bundle. Its cost is part of the wall time (measured separately and reported).
   */
  wrapper?: string[];
}

export interface Sample {
  ok: boolean;
  timedOut: boolean;
  seconds: number;
  /** KiB, from GNU time; undefined when it could not be read. */
  maxRssKiB: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Tail of stderr + stdout, for failures. */
  outputTail: string;
}

export interface MeasureOptions {
  timeoutMs: number;
  /** Folder for the output capture and GNU time's file. */
  scratchDir: string;
}

let counter = 0;
/** Process groups of the commands running now (for Ctrl-C). */
const running = new Set<number>();

/** Kills the process groups of the measured commands still running (only those). */
export function killRunning(): void {
  for (const pid of running) killGroup(pid);
}

export async function measure(command: Command, options: MeasureOptions): Promise<Sample> {
  const id = `${process.pid}-${++counter}`;
  const outPath = join(options.scratchDir, `out-${id}.log`);
  const rssPath = join(options.scratchDir, `rss-${id}.txt`);
  const stop = command.around ? await command.around() : undefined;
  try {
    const out = openSync(outPath, 'w');
    const argv = [...(command.wrapper ?? []), GNU_TIME, '-f', '%M', '-o', rssPath, command.file, ...command.args];
    const started = process.hrtime.bigint();
    let timedOut = false;
    let pid: number | undefined;
    const { exitCode, signal } = await new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        const child = spawn(argv[0] as string, argv.slice(1), {
          env: command.env,
          ...(command.cwd ? { cwd: command.cwd } : {}),
          stdio: ['ignore', out, out],
          detached: true,
        });
        pid = child.pid;
        if (pid !== undefined) running.add(pid);
        const timer = setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
        }, options.timeoutMs);
        child.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.on('exit', (code, sig) => {
          clearTimeout(timer);
          resolve({ exitCode: code, signal: sig });
        });
      },
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (pid !== undefined) running.delete(pid);
    closeSync(out);
    // Whatever the command left behind in its group (a server that outlived its parent): gone.
    // Only this group, which this script created; normally it is empty by now.
    killGroup(pid);
    const outputTail = tail(readFileSync(outPath, 'utf8'), 25);
    let maxRssKiB: number | undefined;
    try {
      // GNU time writes "Command exited with non-zero status N" first when the command failed.
      const lines = readFileSync(rssPath, 'utf8').trim().split('\n');
      const value = Number(lines.at(-1));
      if (Number.isFinite(value) && value > 0) maxRssKiB = value;
    } catch {
      maxRssKiB = undefined;
    }
    const okCodes = command.okCodes ?? [0];
    return {
      ok: !timedOut && exitCode !== null && okCodes.includes(exitCode),
      timedOut,
      seconds,
      maxRssKiB,
      exitCode,
      signal,
      outputTail,
    };
  } finally {
    rmSync(outPath, { force: true });
    rmSync(rssPath, { force: true });
    await stop?.();
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
