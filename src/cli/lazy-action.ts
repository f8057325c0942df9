/**
 * Commands declare their options here, at start-up; what they do is loaded only when one runs,
 * so `--version` and `--help` never pay for the ACME core, the crypto libraries or the HTTP client.
 */
import type { Command } from 'commander';
import { loadCore } from './core-loader.js';
import type { CliRuntime, CliState } from './runtime.js';

/** Every command that has an action, by the words that call it. */
export type CommandName =
  | 'register'
  | 'issue'
  | 'renew'
  | 'revoke'
  | 'certificates'
  | 'account show'
  | 'account list'
  | 'account update'
  | 'account deactivate'
  | 'account rollover'
  | 'schedule install'
  | 'schedule remove'
  | 'schedule show';

/** Runs a command's action once commander has parsed its argv. */
export type RunAction = (name: CommandName, runtime: CliRuntime, state: CliState, command: Command) => Promise<void>;

/** The real one: loads the core (core.ts) on first use. */
export const runActionFromCore: RunAction = async (name, runtime, state, command) =>
  (await loadCore()).runAction(name, runtime, state, command);

/** A command's commander handler, by name. */
export type ActionFor = (name: CommandName) => (this: Command) => Promise<void>;

export function lazyActions(runtime: CliRuntime, state: CliState, runAction: RunAction): ActionFor {
  // commander calls a handler with `this` bound to the command whose options it parsed.
  return (name) =>
    async function (this: Command) {
      await runAction(name, runtime, state, this);
    };
}
