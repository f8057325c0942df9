/**
 * The frame every command action runs in: config file applied, reporter and context built,
 * secrets registered for redaction, the operation run, its result printed (or its error as one
 * line, plus a hint), and the exit code recorded. Commands stay thin: parse, call, render.
 */
import type { Command } from 'commander';
import { AcmecliError, ExitCode, messageOf } from '../errors.js';
import { stackLines } from '../output/escape.js';
import type { OutputLine, Reporter } from '../output/reporter.js';
import type { RunContext } from '../operations/context.js';
import { SECRET_ENV_VARS } from '../hooks/secret-env.js';
import { hintFor } from './hints.js';
import { applyConfigFile, buildRunContext, createRunReporter, loadConfigFile, type GlobalOptions } from './global.js';
import type { CliRuntime, CliState } from './runtime.js';
export type { CliState };

export interface ActionOutcome<T> {
  value: T;
  /** The result for a terminal, as lines (the reporter escapes each line whole). */
  render?: (value: T) => string | readonly OutputLine[];
  exitCode?: number;
}

/**
 * What commander parsed for one command, after the config file: everything a command's parse step
 * reads. Values are keyed by commander's attribute names (`--cert-name` → certName).
 */
export interface CommandLine {
  readonly values: Readonly<Record<string, unknown>>;
  /** Where a value came from: commander's 'cli', 'env', 'config' or 'default'. */
  sourceOf(attribute: string): string | undefined;
  /** The raw arguments from the command's name on: for what commander keeps no order of (-w before -d). */
  readonly args: readonly string[];
  readonly cwd: string;
}

/** One command: its typed input, and what it does with it. */
export interface CommandAction<Input, Result> {
  /** The command's one parsing step: a wrong value throws a UsageError naming its flag (exit 2). */
  readonly parse: (line: CommandLine) => Input;
  readonly run: (context: RunContext, input: Input, runtime: CliRuntime) => Promise<ActionOutcome<Result>>;
}

/** Runs one command's action; every action passes through it, keeping its own Input and Result types. */
export type ActionFrame = <Input, Result>(action: CommandAction<Input, Result>) => Promise<void>;

/** Option attribute names whose values are secrets (never printed, logged or stored). */
export const SECRET_OPTIONS = new Set(['eabHmacKey', 'nsupdateKey']);

function chain(command: Command): Command[] {
  const commands: Command[] = [];
  for (let current: Command | null = command; current; current = current.parent) commands.push(current);
  return commands;
}

export function errorDocument(error: unknown): { message: string; exitCode: number; hint?: string; type?: string } {
  if (error instanceof AcmecliError) {
    const problemType = (error as { type?: unknown }).type;
    const hint = hintFor(error);
    return {
      message: error.message,
      exitCode: error.exitCode,
      ...(hint ? { hint } : {}),
      ...(typeof problemType === 'string' ? { type: problemType } : {}),
    };
  }
  return { message: `unexpected error: ${messageOf(error)}`, exitCode: ExitCode.bug };
}

export function reportError(reporter: Reporter, error: unknown, verbose: boolean): number {
  const doc = errorDocument(error);
  reporter.error(doc.message);
  if (doc.hint) reporter.error(`hint: ${doc.hint}`);
  // One debug line per stack line: a message quoting the CA stays one line, escaped (escape.ts).
  if (verbose && error instanceof Error && !(error instanceof AcmecliError))
    for (const line of stackLines(error)) reporter.debug(line);
  if (reporter.mode === 'json') {
    reporter.result({ ok: false, error: doc, warnings: reporter.warnings() });
  }
  return doc.exitCode;
}

function commandLine(command: Command, values: Record<string, unknown>, runtime: CliRuntime): CommandLine {
  const start = runtime.argv.indexOf(command.name());
  return {
    values,
    sourceOf: (attribute) => command.getOptionValueSource(attribute),
    args: runtime.argv.slice(Math.max(start, 0)),
    cwd: runtime.cwd,
  };
}

/** Runs one action in the frame: config, reporter, context, result, error, exit code. */
export async function runInFrame<Input, Result>(
  runtime: CliRuntime,
  state: CliState,
  command: Command,
  action: CommandAction<Input, Result>,
): Promise<void> {
  {
    const commands = chain(command);
    const early = command.optsWithGlobals<GlobalOptions>();
    // A reporter first, so even a bad config file is reported in the chosen output mode.
    let reporter = createRunReporter(early, runtime);
    try {
      const config = await loadConfigFile(early, runtime);
      const warnings = config ? applyConfigFile(config.values, commands) : [];
      const options = command.optsWithGlobals<Record<string, unknown> & GlobalOptions>();
      if (
        config &&
        (options.json !== early.json ||
          options.quiet !== early.quiet ||
          options.verbose !== early.verbose ||
          options.logFile !== early.logFile)
      ) {
        await reporter.close();
        reporter = createRunReporter(options, runtime);
      }
      for (const [key, value] of Object.entries(options)) {
        if (SECRET_OPTIONS.has(key) && typeof value === 'string' && value !== '') reporter.addSecret(value);
      }
      for (const name of SECRET_ENV_VARS) {
        const value = runtime.env[name];
        if (value) reporter.addSecret(value);
      }
      for (const warning of warnings) reporter.warn(warning);
      const context = buildRunContext(options, runtime, reporter);
      const input = action.parse(commandLine(command, options, runtime));
      const outcome = await action.run(context, input, runtime);
      if (reporter.mode === 'json') {
        reporter.result({ ok: (outcome.exitCode ?? 0) === 0, result: outcome.value, warnings: reporter.warnings() });
      } else if (outcome.render) {
        reporter.result(outcome.value, outcome.render);
      }
      state.exitCode = outcome.exitCode ?? ExitCode.ok;
    } catch (error) {
      state.exitCode = reportError(reporter, error, early.verbose === true);
    } finally {
      await reporter.close();
    }
  }
}
