/**
 * One measured run of a command, with a hard timeout: wall time, CPU time (user + system) and
 * peak resident memory, all from wait4(2) on the command itself.
 *
 * The probe is a few lines of Python (python3 is on every machine that has certbot): fork, exec
 * the command, wait4, write {wall, user, sys, maxrss, code}. ru_maxrss is exactly what GNU time's
 * %M prints; its %U/%S have 10 ms resolution, too coarse for start-up times, hence the probe. The
 * wall time starts just before fork and ends when wait4 returns, so the probe's own start-up and
 * any wrapper in front of it (nice, nsenter) are not counted. Without python3, GNU time
 * (`/usr/bin/time -f %M`) gives the RSS and the wall time is taken around the whole spawn; CPU
 * time is then not reported.
 *
 * The command runs in its own process group, so a timeout kills everything it started (a
 * standalone server, a hook) and nothing else.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

const PROBE = String.raw`
import json, os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write("bench probe: cannot run %s: %s\n" % (argv[0], error))
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
with open(result, "w") as out:
    json.dump({"wall": wall, "user": usage.ru_utime, "sys": usage.ru_stime, "maxrss": usage.ru_maxrss, "code": code}, out)
sys.exit(code if code >= 0 else 128 - code)
`;

let probeAvailable: boolean | undefined;

/** Whether the wait4 probe (python3) can be used; otherwise GNU time is. */
export function probeKind(): 'wait4' | 'gnu-time' {
  probeAvailable ??= spawnSync('python3', ['-c', 'import os; os.wait4'], { stdio: 'ignore' }).status === 0;
  return probeAvailable ? 'wait4' : 'gnu-time';
}

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
  /** Prepended in front of the probe: nice, or nsenter into uacme's mount namespace. Not timed. */
  wrapper?: string[];
}

export interface Sample {
  ok: boolean;
  timedOut: boolean;
  /** Wall time. */
  seconds: number;
  /** User + system CPU time of the command and what it waited for; undefined with GNU time. */
  cpuSeconds: number | undefined;
  /** KiB (ru_maxrss); undefined when it could not be read. */
  maxRssKiB: number | undefined;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Tail of stderr + stdout, for failures. */
  outputTail: string;
}

export interface MeasureOptions {
  timeoutMs: number;
  /** Folder for the output capture and the probe's result file. */
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
  const resultPath = join(options.scratchDir, `result-${id}.txt`);
  const kind = probeKind();
  const stop = command.around ? await command.around() : undefined;
  try {
    const out = openSync(outPath, 'w');
    const probe = kind === 'wait4' ? ['python3', '-c', PROBE, resultPath] : [GNU_TIME, '-f', '%M', '-o', resultPath];
    const argv = [...(command.wrapper ?? []), ...probe, command.file, ...command.args];
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
    const spawnSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (pid !== undefined) running.delete(pid);
    closeSync(out);
    // Whatever the command left behind in its group (a server that outlived its parent): gone.
    // Only this group, which this script created; normally it is empty by now.
    killGroup(pid);
    const outputTail = tail(readFileSync(outPath, 'utf8'), 25);
    let seconds = spawnSeconds;
    let cpuSeconds: number | undefined;
    let maxRssKiB: number | undefined;
    let realExit = exitCode;
    if (existsSync(resultPath)) {
      const text = readFileSync(resultPath, 'utf8').trim();
      if (kind === 'wait4') {
        try {
          const r = JSON.parse(text) as { wall: number; user: number; sys: number; maxrss: number; code: number };
          seconds = r.wall;
          cpuSeconds = r.user + r.sys;
          maxRssKiB = r.maxrss > 0 ? r.maxrss : undefined;
          realExit = r.code >= 0 ? r.code : exitCode;
        } catch {
          // A killed probe leaves no result: keep the spawn's numbers.
        }
      } else {
        // GNU time writes "Command exited with non-zero status N" first when the command failed.
        const value = Number(text.split('\n').at(-1));
        if (Number.isFinite(value) && value > 0) maxRssKiB = value;
      }
    }
    const okCodes = command.okCodes ?? [0];
    return {
      ok: !timedOut && realExit !== null && okCodes.includes(realExit),
      timedOut,
      seconds,
      cpuSeconds,
      maxRssKiB,
      exitCode: realExit,
      signal,
      outputTail,
    };
  } finally {
    rmSync(outPath, { force: true });
    rmSync(resultPath, { force: true });
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
