/**
 * Runs user commands (manual hooks, reload commands). The command string is the user's own and
 * goes to the platform shell, as certbot does; values computed by acmecli travel only in `env`,
 * never pasted into the string, so nothing the CA sends can be interpreted by a shell.
 */
import { constants } from 'node:os';
import { AbortedError, LocalError, messageOf } from '../errors.js';
import { childEnvironment } from './secret-env.js';

export interface RunCommandRequest {
  command: string;
  /**
   * Added to the inherited environment (without the variables that hold secrets, see
   * secret-env.ts) for this call only; process.env is never mutated.
   */
  env?: Readonly<Record<string, string>>;
  timeoutMs: number;
  signal?: AbortSignal;
  cwd?: string;
}

export interface RunCommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type RunCommand = (request: RunCommandRequest) => Promise<RunCommandResult>;

/** Each of stdout and stderr is captured up to this many bytes; the tail is kept. */
export const OUTPUT_LIMIT_BYTES = 64 * 1024;

/**
 * The command ran past `timeoutMs`; its process tree was killed. Deliberately not an
 * AcmecliError: only the caller knows whether this is a failed manual hook (PluginError) or a
 * failed reload (ReloadError), so it must wrap it; one that escapes unwrapped is a bug (exit 1).
 */
export class CommandTimeoutError extends Error {
  readonly command: string;
  readonly timeoutMs: number;
  /** Output captured before the kill, for the caller's message. */
  readonly stdout: string;
  readonly stderr: string;

  constructor(command: string, timeoutMs: number, output: { stdout: string; stderr: string }) {
    super(`command timed out after ${formatMs(timeoutMs)}: ${command}`);
    this.name = 'CommandTimeoutError';
    this.command = command;
    this.timeoutMs = timeoutMs;
    this.stdout = output.stdout;
    this.stderr = output.stderr;
  }
}

/**
 * Runs `request.command` through the platform shell (`/bin/sh -c` on POSIX, `cmd.exe /d /s /c`
 * on Windows). Resolves for every exit status (callers decide what non-zero means; a command
 * killed by a signal it did not get from us reports 128 + the signal number, as shells do).
 * Throws CommandTimeoutError on timeout, AbortedError when `signal` fires (in both cases the
 * whole process tree is killed first), LocalError when the shell itself cannot be started.
 * stdin is closed: hooks cannot prompt; the manual plugin prompts through its own context.
 */
export const runCommand: RunCommand = async (request) => {
  const { file, args, windowsVerbatimArguments } = shellInvocation(request.command);
  const stdout = new TailBuffer(OUTPUT_LIMIT_BYTES);
  const stderr = new TailBuffer(OUTPUT_LIMIT_BYTES);
  // Loaded here, not at start-up: most runs (renew with nothing due) start no command at all.
  const { execa } = await import('execa');
  const subprocess = execa(file, args, {
    env: childEnvironment(process.env, request.env),
    extendEnv: false,
    ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
    stdin: 'ignore',
    // Captured here rather than by execa, whose maxBuffer kills the command when it is reached.
    buffer: false,
    reject: false,
    timeout: request.timeoutMs,
    ...(request.signal === undefined ? {} : { cancelSignal: request.signal }),
    killDescendants: true,
    forceKillAfterDelay: 2000,
    windowsHide: true,
    windowsVerbatimArguments,
  });
  subprocess.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  subprocess.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const result = await subprocess;
  const output = { stdout: stdout.text(), stderr: stderr.text() };
  if (result.timedOut) throw new CommandTimeoutError(request.command, request.timeoutMs, output);
  if (result.isCanceled) throw new AbortedError('cancelled', { cause: request.signal?.reason });
  if (result.exitCode === undefined && result.signal === undefined) {
    // Node reports a missing cwd as the shell missing, so name both.
    const where = request.cwd === undefined ? '' : ` in ${request.cwd}`;
    throw new LocalError(`cannot start ${file}${where}: ${result.originalMessage ?? messageOf(result)}`, {
      cause: result,
    });
  }
  return { exitCode: result.exitCode ?? 128 + signalNumber(result.signal), ...output };
};

function shellInvocation(command: string): { file: string; args: string[]; windowsVerbatimArguments: boolean } {
  if (process.platform === 'win32') {
    // As Node's own `shell: true`: /s strips exactly the outer quotes, so the user's string reaches
    // cmd.exe unchanged; /d skips AutoRun entries that could change behaviour per machine.
    return {
      file: process.env['ComSpec'] ?? 'cmd.exe',
      args: ['/d', '/s', '/c', `"${command}"`],
      windowsVerbatimArguments: true,
    };
  }
  return { file: '/bin/sh', args: ['-c', command], windowsVerbatimArguments: false };
}

function signalNumber(name: string | undefined): number {
  if (name === undefined) return 0;
  return (constants.signals as Record<string, number | undefined>)[name] ?? 0;
}

/** Keeps the last `limit` bytes: the end of a failing command's output says why it failed. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0] as Buffer;
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }

  text(): string {
    // A cut inside a UTF-8 sequence decodes to U+FFFD, which is fine for a log excerpt.
    const body = Buffer.concat(this.chunks).toString('utf8').replace(/\r\n/g, '\n');
    return this.dropped === 0 ? body : `[${this.dropped} earlier bytes omitted]\n${body}`;
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
