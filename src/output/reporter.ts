/**
 * What CLI commands print, in four modes chosen once per run:
 *   tty    spinners (ora) and plain lines on stderr; falls back to `plain` when stderr is no TTY
 *   plain  `YYYY-MM-DDTHH:MM:SSZ message` lines on stderr, for cron and log collectors
 *   quiet  only `error()` lines on stderr; result() prints nothing (certbot -q)
 *   json   nothing on stderr but `error()`; result() writes exactly one JSON document on stdout
 * stdout only ever carries the result, so `acmecli ... --json | jq` and pipes stay clean.
 * Everything written anywhere (stderr, stdout, the spinner, prompts, --log-file) first goes through
 * `redact` with the secrets registered by `addSecret`, then is escaped as a whole (escape.ts says
 * why): each message is exactly one line wherever it lands, whatever the CA or a hook put in it.
 * Injected into operations as a Logger, never global.
 */
import { closeSync, constants as fsConstants, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { LocalError } from '../errors.js';
import { escapeLine, stringifyJson } from './escape.js';
import { redact } from './redact.js';
import type { Logger } from './logger.js';

export type ReporterMode = 'tty' | 'plain' | 'quiet' | 'json';

export interface ReporterOptions {
  mode: ReporterMode;
  stdout: Writable;
  stderr: Writable;
  verbose: boolean;
  /** Appended to with every message, debug included, timestamped; created 0600. */
  logFile?: string;
  /** Whether stderr is a terminal; `tty` mode without one behaves as `plain`. */
  isTTY: boolean;
  /** For tests. */
  now?: () => Date;
}

/**
 * One line of a rendered result: a string, or a row of cells that is printed tab-separated (for
 * `cut`). Each string or cell is escaped whole: a value with a newline cannot start a line.
 */
export type OutputLine = string | readonly string[];

export interface StepHandle {
  update(text: string): void;
  /** Ends the step; later calls on the handle are ignored. */
  succeed(text?: string): void;
  fail(text?: string): void;
}

export interface Reporter extends Logger {
  readonly mode: ReporterMode;
  error(message: string): void;
  /** A unit of progress (a spinner on a terminal, start and end lines elsewhere). */
  step(text: string): StepHandle;
  /**
   * The command's outcome. json: `value` serialised as the run's single stdout document (a
   * second call throws: it would break consumers). tty/plain: the lines of `render(value)` (a
   * string is one line), or the value itself when it is a string, on stdout. quiet: nothing.
   */
  result<T>(value: T, render?: (value: T) => string | readonly OutputLine[]): void;
  /** What a prompt shows for `message` (a string is one line): redacted, each line escaped whole. */
  promptText(message: string | readonly string[]): string;
  /** Redacts `value` (and its encodings) from everything written from now on. */
  addSecret(value: string): void;
  /** Warnings given in json/quiet mode, which print none, so the caller can put them in the result. */
  warnings(): readonly string[];
  /**
   * Holds the spinner still (and off the screen) while the user is asked something; the
   * returned function resumes it.
   */
  pause(): () => void;
  /** Stops spinners and closes the log file. Call once at the end of the run. */
  close(): Promise<void>;
}

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export function createReporter(options: ReporterOptions): Reporter {
  const mode: ReporterMode = options.mode === 'tty' && !options.isTTY ? 'plain' : options.mode;
  const now = options.now ?? (() => new Date());
  const secrets: string[] = [];
  const collectedWarnings: string[] = [];
  const logFd = options.logFile === undefined ? undefined : openLogFile(options.logFile);
  let resultWritten = false;
  let closed = false;
  /** Every message, cell and prompt line passes here before it is written anywhere but --json. */
  const clean = (text: string): string => escapeLine(redact(text, secrets));
  const spinner = mode === 'tty' ? new SpinnerLine(options.stderr, clean) : undefined;

  const toLog = (level: Level, message: string): void => {
    if (logFd === undefined) return;
    try {
      writeSync(logFd, `${timestamp(now())} ${level.padEnd(5)} ${clean(message)}\n`);
    } catch {
      // A full disk must not turn a successful renewal into a failure; the terminal still shows it.
    }
  };

  const toStderr = (message: string): void => {
    const text = clean(message);
    if (mode === 'plain') {
      options.stderr.write(`${timestamp(now())} ${text}\n`);
    } else if (spinner !== undefined) {
      spinner.writeAbove(`${text}\n`);
    } else {
      options.stderr.write(`${text}\n`);
    }
  };

  const chatty = mode === 'tty' || mode === 'plain';

  const reporter: Reporter = {
    mode,
    debug(message) {
      toLog('DEBUG', message);
      if (chatty && options.verbose) toStderr(mode === 'plain' ? `debug: ${message}` : message);
    },
    info(message) {
      toLog('INFO', message);
      if (chatty) toStderr(message);
    },
    warn(message) {
      toLog('WARN', message);
      if (chatty) toStderr(`warning: ${message}`);
      // Raw (redacted) here: they go into the --json document, which escapes them itself.
      else collectedWarnings.push(redact(message, secrets));
    },
    error(message) {
      toLog('ERROR', message);
      toStderr(`error: ${message}`);
    },
    pause() {
      return spinner?.pause() ?? (() => {});
    },
    step(text) {
      toLog('INFO', text);
      if (spinner !== undefined) return spinner.add(text, toLog);
      let done = false;
      let current = text;
      if (mode === 'plain') toStderr(`${text} ...`);
      return {
        update(next) {
          if (done) return;
          current = next;
          toLog('INFO', next);
          if (mode === 'plain') toStderr(`${next} ...`);
        },
        succeed(final) {
          if (done) return;
          done = true;
          toLog('INFO', `done: ${final ?? current}`);
          if (mode === 'plain') toStderr(`done: ${final ?? current}`);
        },
        fail(final) {
          if (done) return;
          done = true;
          toLog('ERROR', `failed: ${final ?? current}`);
          if (mode === 'plain') toStderr(`failed: ${final ?? current}`);
        },
      };
    },
    result(value, render) {
      if (mode === 'json') {
        if (resultWritten) throw new Error('Reporter.result() called twice in json mode');
        resultWritten = true;
        options.stdout.write(`${redact(stringifyJson(value, 2), secrets)}\n`);
        return;
      }
      if (mode === 'quiet') return;
      let lines: readonly OutputLine[];
      if (render !== undefined) {
        const rendered = render(value);
        lines = typeof rendered === 'string' ? [rendered] : rendered;
      } else {
        // stringifyJson's newlines are its indentation: every string value is on one line.
        lines = typeof value === 'string' ? [value] : stringifyJson(value, 2).split('\n');
      }
      if (lines.length === 0) return;
      options.stdout.write(
        lines.map((line) => `${typeof line === 'string' ? clean(line) : line.map(clean).join('\t')}\n`).join(''),
      );
    },
    promptText(message) {
      return typeof message === 'string' ? clean(message) : message.map(clean).join('\n');
    },
    addSecret(value) {
      if (value !== '' && !secrets.includes(value)) secrets.push(value);
    },
    warnings() {
      return [...collectedWarnings];
    },
    async close() {
      if (closed) return;
      closed = true;
      await spinner?.close();
      if (logFd !== undefined) {
        try {
          closeSync(logFd);
        } catch {
          // Already closed by the OS on a failing disk; nothing left to flush.
        }
      }
    },
  };
  return reporter;
}

/** `2024-05-01T12:00:00Z`: second precision is enough for humans and sorts as text. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function openLogFile(path: string): number {
  try {
    // O_APPEND: concurrent runs (a renew timer and a manual run) interleave whole lines, never overwrite.
    return openSync(path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT, 0o600);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new LocalError(`cannot open log file ${path}: ${code ?? String(error)}`, { cause: error });
  }
}

interface OraLike {
  text: string;
  readonly isSpinning: boolean;
  start(text?: string): OraLike;
  stop(): OraLike;
  succeed(text?: string): OraLike;
  fail(text?: string): OraLike;
  clear(): OraLike;
  render(): OraLike;
}

interface ActiveStep {
  text: string;
}

/**
 * One ora spinner shared by all running steps: it shows the newest step; a finished step is
 * printed as a permanent ✔/✖ line and the spinner moves on to the next one still running.
 * ora is imported on the first step only, so commands that print nothing never load it.
 */
class SpinnerLine {
  private readonly active: ActiveStep[] = [];
  private spinner: OraLike | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly stream: Writable,
    private readonly clean: (text: string) => string,
  ) {}

  add(text: string, log: (level: Level, message: string) => void): StepHandle {
    const step: ActiveStep = { text };
    this.active.push(step);
    this.load();
    this.show();
    let done = false;
    const finish = (ok: boolean, final: string | undefined): void => {
      if (done) return;
      done = true;
      const line = final ?? step.text;
      log(ok ? 'INFO' : 'ERROR', `${ok ? 'done' : 'failed'}: ${line}`);
      this.active.splice(this.active.indexOf(step), 1);
      const message = this.clean(line);
      if (this.spinner !== undefined) {
        this.spinner.text = message;
        if (ok) this.spinner.succeed(message);
        else this.spinner.fail(message);
      } else {
        this.stream.write(`${ok ? '✔' : '✖'} ${message}\n`);
      }
      this.show();
    };
    return {
      update: (next) => {
        if (done) return;
        step.text = next;
        log('INFO', next);
        this.show();
      },
      succeed: (final) => finish(true, final),
      fail: (final) => finish(false, final),
    };
  }

  private paused = 0;

  pause(): () => void {
    this.paused++;
    if (this.spinner?.isSpinning === true) this.spinner.stop();
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      this.paused--;
      this.show();
    };
  }

  /** A log line printed while a spinner runs goes above it instead of through it. */
  writeAbove(text: string): void {
    const spinner = this.spinner;
    if (spinner?.isSpinning === true) {
      spinner.clear();
      this.stream.write(text);
      spinner.render();
    } else {
      this.stream.write(text);
    }
  }

  async close(): Promise<void> {
    await this.loading;
    this.active.length = 0;
    this.spinner?.stop();
  }

  private load(): void {
    this.loading ??= import('ora').then(
      ({ default: ora }) => {
        const stream = this.stream as Writable & { columns?: unknown } & Partial<
            Record<'cursorTo' | 'clearLine' | 'moveCursor', unknown>
          >;
        // ora drives the cursor; a stream that cannot (a test double) gets its plain text output.
        // A terminal reporting 0 columns (a pty nobody sized, e.g. `docker exec -t` in CI) would
        // make ora compute an infinite number of lines to clear.
        const canDraw =
          ['cursorTo', 'clearLine', 'moveCursor'].every((m) => typeof stream[m as 'cursorTo'] === 'function') &&
          typeof stream.columns === 'number' &&
          stream.columns > 0;
        this.spinner = ora({
          stream: this.stream as unknown as NodeJS.WritableStream,
          isEnabled: canDraw,
          // ora's default puts stdin into raw mode, which would break the manual plugin's prompts.
          discardStdin: false,
        });
        this.show();
      },
      () => {
        // Without ora the steps still print their ✔/✖ lines.
      },
    );
  }

  private show(): void {
    const spinner = this.spinner;
    if (spinner === undefined || this.paused > 0) return;
    const top = this.active.at(-1);
    if (top === undefined) {
      if (spinner.isSpinning) spinner.stop();
      return;
    }
    const text = this.clean(top.text);
    if (spinner.isSpinning) spinner.text = text;
    else spinner.start(text);
  }
}
