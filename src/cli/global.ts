/**
 * Global options (every subcommand), the config file (`<config-dir>/config.ini`, certbot's
 * `cli.ini` habit: `key = value` lines named after long options), and the RunContext built from
 * them. Precedence: command line, then environment, then config file, then defaults.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import type { GlobalOptions } from './global-options.js';
export type { GlobalOptions };
import { UsageError } from '../errors.js';
import { defaultConfigDir } from '../store/layout.js';
import { readConfigFile } from '../store/settings.js';
import { validateAccountName } from '../store/layout.js';
import { createReporter, type Reporter, type ReporterMode } from '../output/reporter.js';
import type { RunContext } from '../operations/context.js';
import { DEFAULT_SERVER, resolveServer } from '../operations/servers.js';
import { hintFor } from './hints.js';
import type { CliRuntime } from './runtime.js';

/** Config-file keys that name options by their long flag, or these few aliases certbot users write. */
const CONFIG_ALIASES: Record<string, string> = {
  'agree-tos': 'agree-tos',
  'eab-kid': 'eab-kid',
  'eab-hmac-key': 'eab-hmac-key',
  email: 'email',
  'rsa-key-size': 'key-type',
  authenticator: 'plugin',
  'config-dir': 'config-dir',
};

function truthy(value: string | true): boolean {
  return value === true || /^(1|true|yes|on)$/i.test(value.trim());
}

function longFlagName(option: Option): string | undefined {
  return option.long?.replace(/^--/, '');
}

/**
 * Fills options the user did not give on the command line or in the environment from the
 * config file. Returns warnings for keys that match no option of this command.
 */
export function applyConfigFile(values: Record<string, string | true>, commands: readonly Command[]): string[] {
  const warnings: string[] = [];
  for (const [rawKey, value] of Object.entries(values)) {
    const key = CONFIG_ALIASES[rawKey] ?? rawKey;
    if (key === 'config-dir' || key === 'config') continue;
    let applied = false;
    let known = false;
    for (const command of commands) {
      const option = command.options.find((o) => longFlagName(o) === key || longFlagName(o) === `no-${key}`);
      if (!option) continue;
      known = true;
      const attribute = option.attributeName();
      const source = command.getOptionValueSource(attribute);
      if (source === 'cli' || source === 'env') continue;
      let parsed: unknown;
      if (option.isBoolean()) {
        parsed = option.negate ? !truthy(value) : truthy(value);
      } else if (value === true) {
        throw new UsageError(`config file: "${rawKey}" needs a value (${rawKey} = ...)`);
      } else if (option.parseArg) {
        parsed = option.parseArg(value, option.defaultValue as never);
      } else {
        parsed = value;
      }
      command.setOptionValueWithSource(attribute, parsed, 'config');
      applied = true;
      break;
    }
    if (!known && !applied) warnings.push(`config file: "${rawKey}" is not an option of this command; ignored`);
  }
  return warnings;
}

export function resolveConfigDir(globals: GlobalOptions, runtime: CliRuntime): string {
  return (
    globals.configDir ??
    defaultConfigDir({ platform: runtime.platform, env: runtime.env, uid: runtime.uid, homedir: runtime.homedir })
  );
}

export async function loadConfigFile(
  globals: GlobalOptions,
  runtime: CliRuntime,
): Promise<{ path: string; values: Record<string, string | true> } | undefined> {
  const path = globals.config ?? join(resolveConfigDir(globals, runtime), 'config.ini');
  if (globals.config === undefined && !existsSync(path)) return undefined;
  return { path, values: await readConfigFile(path) };
}

function reporterMode(globals: GlobalOptions, runtime: CliRuntime): ReporterMode {
  if (globals.json) return 'json';
  if (globals.quiet) return 'quiet';
  return runtime.stderr.isTTY ? 'tty' : 'plain';
}

export function createRunReporter(globals: GlobalOptions, runtime: CliRuntime): Reporter {
  return createReporter({
    mode: reporterMode(globals, runtime),
    stdout: runtime.stdout,
    stderr: runtime.stderr,
    verbose: globals.verbose === true,
    isTTY: runtime.stderr.isTTY === true,
    ...(globals.logFile ? { logFile: globals.logFile } : {}),
  });
}

function interactive(globals: GlobalOptions, runtime: CliRuntime): boolean {
  return !globals.nonInteractive && runtime.stdin.isTTY === true && globals.json !== true;
}

export function buildRunContext(globals: GlobalOptions, runtime: CliRuntime, reporter: Reporter): RunContext {
  const configDir = resolveConfigDir(globals, runtime);
  const server = resolveServer(globals.server ?? DEFAULT_SERVER);
  const accountName = validateAccountName(globals.account ?? 'default');
  const canAsk = interactive(globals, runtime);
  const ask = async (message: string | readonly string[], signal: AbortSignal): Promise<string> => {
    // The question quotes the CA (ToS URL, names from DNS answers): shown through the reporter's escaping.
    const question = reporter.promptText(message);
    const resume = reporter.pause();
    // Loaded here: only an interactive question needs readline, not every run.
    const { createInterface } = process.getBuiltinModule('node:readline/promises');
    const rl = createInterface({ input: runtime.stdin, output: runtime.stderr });
    // Ctrl-C at the prompt is readline's to catch; pass it on so the run is cancelled (and
    // cleaned up) exactly as a Ctrl-C anywhere else.
    rl.on('SIGINT', () => runtime.interrupt());
    try {
      return await rl.question(question, { signal });
    } finally {
      rl.close();
      resume();
    }
  };
  const env = runtime.env;
  const proxy = {
    ...((env.HTTPS_PROXY ?? env.https_proxy) ? { httpsProxy: (env.HTTPS_PROXY ?? env.https_proxy) as string } : {}),
    ...((env.HTTP_PROXY ?? env.http_proxy) ? { httpProxy: (env.HTTP_PROXY ?? env.http_proxy) as string } : {}),
    ...((env.NO_PROXY ?? env.no_proxy) ? { noProxy: (env.NO_PROXY ?? env.no_proxy) as string } : {}),
  };
  const httpTimeout = env.ACMECLI_HTTP_TIMEOUT;
  if (httpTimeout !== undefined && !/^\d+(\.\d+)?$/.test(httpTimeout.trim())) {
    throw new UsageError(`ACMECLI_HTTP_TIMEOUT must be a number of seconds, got ${JSON.stringify(httpTimeout)}`);
  }
  return {
    configDir,
    server,
    accountName,
    ...(httpTimeout !== undefined && Number(httpTimeout) > 0 ? { httpTimeoutMs: Number(httpTimeout) * 1000 } : {}),
    reporter,
    signal: runtime.signal,
    nonInteractive: !canAsk,
    runCommand: runtime.runCommand,
    proxy,
    userAgent: `acmecli/${runtime.version} (${runtime.platform}; ${process.arch}) node/${process.versions.node}`,
    now: runtime.now,
    hintFor,
    env: runtime.env,
    ...(globals.caBundle ? { caBundle: globals.caBundle } : {}),
    ...(globals.clientCert ? { clientCert: globals.clientCert } : {}),
    ...(globals.clientKey ? { clientKey: globals.clientKey } : {}),
    ...(canAsk
      ? {
          prompt: async (lines: readonly string[], signal: AbortSignal) => {
            await ask([...lines, ''], signal);
          },
          confirm: async (question: string, signal: AbortSignal) =>
            /^y(es)?$/i.test((await ask(question, signal)).trim()),
        }
      : {}),
  };
}
