/**
 * Commands declare their options here, at start-up; what they do is loaded only when one runs,
 * so `--version` and `--help` never pay for the ACME core, the crypto libraries or the HTTP client.
 */
import type { Command } from 'commander';
import { loadCore } from './core-loader.js';
import type { CliRuntime, CliState } from './runtime.js';

export function lazyAction(runtime: CliRuntime, state: CliState, name: string): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const core = await loadCore();
    await core.runAction(name, runtime, state, command);
  };
}
