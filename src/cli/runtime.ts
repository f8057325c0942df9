/**
 * What the CLI needs from the process, injectable so commands can be tested without one.
 * main.ts builds the real one; tests build fakes.
 */
import type { Readable, Writable } from 'node:stream';
import type { RunCommand } from '../hooks/run-command.js';

export interface CliRuntime {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  uid: number | undefined;
  homedir: string;
  /** Working directory at start-up (recorded for manual hooks given as relative paths). */
  cwd: string;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  signal: AbortSignal;
  /** Cancels the run as Ctrl-C does (used where readline swallows the key). */
  interrupt: () => void;
  runCommand: RunCommand;
  now: () => Date;
  /** The executable and script that started acmecli (for `schedule`). */
  execPath: string;
  scriptPath: string | undefined;
  isSea: boolean;
  version: string;
}

/** What an action reports back to runCli. */
export interface CliState {
  exitCode: number;
}
