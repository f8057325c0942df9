/**
 * Challenge plugin descriptors: what the CLI and operations see. The core sees only `Solver`.
 * Adding a plugin = one folder in `plugins/` + one line in `registry.ts`. A DNS plugin implements
 * only `TxtRecordProvider` (add and remove one TXT value) and gets its Solver from
 * `createDns01Solver` in `dns01/coordinator.ts`, which does the rest of dns-01.
 */
import type { ChallengeType, Solver } from '../acme/solver.js';
import type { Logger } from '../output/logger.js';
import type { RunCommand } from '../hooks/run-command.js';
import type { Dns01Settings } from './dns01/settings.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface PluginOption {
  /** commander flag spec, e.g. `--nsupdate-server <host[:port]>`. Namespaced by plugin name. */
  flags: string;
  description: string;
  /** Environment variable that may supply the value (command line wins). */
  env?: string;
  /** Never echoed in logs, errors, stdout or stored settings. */
  secret?: true;
  /** May be given several times; the raw value is then a string array. */
  repeatable?: true;
}

export interface PluginContext {
  log: Logger;
  /**
   * Shows `lines` and waits for Enter. Absent in non-interactive mode. Lines, not one string: the
   * output layer escapes each whole, so a value in one (a CNAME target) cannot start another.
   */
  prompt?: (lines: readonly string[], signal: AbortSignal) => Promise<void>;
  runCommand: RunCommand;
  /** Settings shared by every dns-01 plugin (propagation check, alias, resolvers). */
  dns01: Dns01Settings;
}

/** What the CLI declares for a plugin; loading it needs none of the plugin's code. */
export interface PluginSpec {
  /** `webroot` | `standalone` | `manual` | `nsupdate` */
  readonly name: string;
  readonly summary: string;
  readonly challengeTypes: readonly ChallengeType[];
  readonly options: readonly PluginOption[];
}

export interface ChallengePlugin<O> extends PluginSpec {
  /**
   * Turns raw option values (commander's camelCase keys, or a stored settings object on renew)
   * into typed options. Throws UsageError naming the flag.
   */
  parseOptions(raw: Readonly<Record<string, unknown>>): O;
  createSolver(options: O, context: PluginContext): Solver;
  /**
   * Whether this configuration can serve a given name (webroot: only names with a document
   * root). Absent means every name.
   */
  canSolve?(options: O, identifierValue: string, wildcard: boolean): boolean;
  /** What `renew` stores to recreate the solver; secrets only by file reference. */
  toSettings(options: O): JsonObject;
}

// A list of plugins with different option types: every method is declared with method syntax,
// whose parameters TypeScript checks bivariantly, so each ChallengePlugin<O> is one of these.
export type AnyChallengePlugin = ChallengePlugin<unknown>;

export const definePlugin = <O>(plugin: ChallengePlugin<O>): ChallengePlugin<O> => plugin;
