/**
 * Runs user commands (manual hooks, reload commands). The command string is the user's own and
 * goes to the platform shell, as certbot does; values computed by acmecli travel only in `env`,
 * never pasted into the string, so nothing the CA sends can be interpreted by a shell.
 */
export interface RunCommandRequest {
  command: string;
  /** Added to the inherited environment for this call only; process.env is never mutated. */
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
