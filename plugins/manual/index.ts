/**
 * manual: http-01 and dns-01 through the user's own hooks (certbot's `--manual-auth-hook` and
 * `--manual-cleanup-hook`, with the same `CERTBOT_*` variables), or, interactively, by printing
 * what to publish and waiting for Enter.
 *
 * Hooks run one at a time in task order (maxConcurrency 1, as certbot does), so
 * CERTBOT_REMAINING_CHALLENGES counts down to 0 and scripts may rely on that to reload a DNS
 * server once. Unlike certbot, a failing auth hook stops the run at once instead of letting the
 * CA find a missing record.
 */
import type { ChallengeTask, Dns01Task, Http01Task, SolvePlan, Solver } from '../../src/acme/solver.js';
import { createDns01Solver, type TxtRecordChange } from '../../src/challenges/dns01/coordinator.js';
import { definePlugin, type JsonObject, type PluginContext } from '../../src/challenges/plugin.js';
import { AbortedError, PluginError, UsageError, messageOf, throwIfAborted } from '../../src/errors.js';
import { CommandTimeoutError, type RunCommandResult } from '../../src/hooks/run-command.js';
import { buildHookEnv } from './hook-env.js';
import { manualSpec, DEFAULT_HOOK_TIMEOUT_SECONDS } from './spec.js';
export { DEFAULT_HOOK_TIMEOUT_SECONDS };

export interface ManualOptions {
  authHook?: string;
  cleanupHook?: string;
  hookTimeoutSeconds: number;
  /**
   * Working directory the hooks run in: where `issue` was run, recorded so that a hook given as
   * `./createtxt.sh` still resolves when `renew` runs from cron in another directory.
   */
  hookWorkingDirectory?: string;
}

const MAX_HOOK_TIMEOUT_SECONDS = 86_400;
/** How much of a failing hook's output goes into the one-line error. */
const ERROR_TAIL_LINES = 3;
const ERROR_TAIL_CHARS = 400;

export const manualPlugin = definePlugin<ManualOptions>({
  ...manualSpec,
  parseOptions: parseManualOptions,
  createSolver: (options, context) => createManualSolver(options, context),
  toSettings(options): JsonObject {
    // Stored under the same keys parseOptions reads, so renew recreates the exact same hooks.
    const settings: JsonObject = { manualHookTimeout: options.hookTimeoutSeconds };
    if (options.authHook !== undefined) settings['manualAuthHook'] = options.authHook;
    if (options.cleanupHook !== undefined) settings['manualCleanupHook'] = options.cleanupHook;
    if (options.hookWorkingDirectory !== undefined)
      settings['manualHookWorkingDirectory'] = options.hookWorkingDirectory;
    return settings;
  },
});

export function parseManualOptions(raw: Readonly<Record<string, unknown>>): ManualOptions {
  const authHook = parseHook(raw['manualAuthHook'], '--manual-auth-hook');
  const cleanupHook = parseHook(raw['manualCleanupHook'], '--manual-cleanup-hook');
  const hookTimeoutSeconds = parseTimeout(raw['manualHookTimeout']);
  const options: ManualOptions = { hookTimeoutSeconds };
  if (authHook !== undefined) options.authHook = authHook;
  if (cleanupHook !== undefined) options.cleanupHook = cleanupHook;
  const workingDirectory = raw['manualHookWorkingDirectory'];
  if (typeof workingDirectory === 'string' && workingDirectory !== '') options.hookWorkingDirectory = workingDirectory;
  return options;
}

function parseHook(value: unknown, flag: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new UsageError(`${flag} must be a command, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseTimeout(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_HOOK_TIMEOUT_SECONDS;
  const seconds =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_HOOK_TIMEOUT_SECONDS) {
    throw new UsageError(
      `--manual-hook-timeout must be a positive number of seconds (at most ${MAX_HOOK_TIMEOUT_SECONDS}), got ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

/** How the user wrote the name: `*.example.com` for a wildcard authorization. */
function displayName(task: ChallengeTask): string {
  return task.wildcard ? `*.${task.identifier.value}` : task.identifier.value;
}

function taskKey(task: ChallengeTask): string {
  return `${task.type} ${task.identifier.type}:${task.identifier.value} ${String(task.wildcard)} ${task.token}`;
}

function hostForUrl(task: ChallengeTask): string {
  const value = task.identifier.value;
  return task.identifier.type === 'ip' && value.includes(':') ? `[${value}]` : value;
}

/** The last few non-empty lines of a hook's output, for a one-line error message. */
export function outputTail(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const tail = lines.slice(-ERROR_TAIL_LINES).join(' / ');
  return tail.length > ERROR_TAIL_CHARS ? `…${tail.slice(-ERROR_TAIL_CHARS)}` : tail;
}

export function createManualSolver(options: ManualOptions, context: PluginContext): Solver {
  const { log } = context;
  const timeoutMs = Math.round(options.hookTimeoutSeconds * 1000);
  /**
   * The auth hook's stdout per task, trimmed (also kept when the hook failed, for the cleanup
   * hook). Set once the auth hook was started or the instructions shown: clean-up has work.
   */
  const authOutputs = new Map<string, string>();
  let shownInstructions = 0;

  async function runHook(
    kind: 'auth' | 'cleanup',
    command: string,
    task: ChallengeTask,
    env: Record<string, string>,
    signal: AbortSignal,
  ): Promise<RunCommandResult> {
    const name = displayName(task);
    const keepOutput = (stdout: string): void => {
      if (kind === 'auth') authOutputs.set(taskKey(task), stdout.trim());
    };
    // runCommand throws CommandTimeoutError; the clock is a backstop should a timeout ever come
    // back as a killed process's exit status instead.
    const timedOut = (started: number, error?: unknown): boolean =>
      error instanceof CommandTimeoutError || performance.now() - started >= timeoutMs;
    const timeoutError = (cause?: unknown): PluginError =>
      new PluginError(`manual ${kind} hook timed out after ${options.hookTimeoutSeconds} s for ${name}`, {
        cause,
        hint: 'raise --manual-hook-timeout if the hook needs longer',
      });

    log.info(`manual: running ${kind} hook for ${name} (${task.type})`);
    const started = performance.now();
    let result: RunCommandResult;
    try {
      result = await context.runCommand({
        command,
        env,
        timeoutMs,
        signal,
        ...(options.hookWorkingDirectory !== undefined ? { cwd: options.hookWorkingDirectory } : {}),
      });
    } catch (error) {
      throwIfAborted(signal); // Ctrl-C is not the hook's failure
      if (error instanceof AbortedError) throw error;
      if (error instanceof CommandTimeoutError) keepOutput(error.stdout);
      if (timedOut(started, error)) throw timeoutError(error);
      throw new PluginError(`manual ${kind} hook failed for ${name}: ${messageOf(error)}`, { cause: error });
    }
    keepOutput(result.stdout);
    if (result.stdout.trim() !== '') log.debug(`manual: ${kind} hook output: ${result.stdout.trim()}`);
    if (result.stderr.trim() !== '') log.debug(`manual: ${kind} hook errors: ${result.stderr.trim()}`);
    if (result.exitCode !== 0) {
      throwIfAborted(signal);
      if (timedOut(started)) throw timeoutError();
      const tail = outputTail(result.stderr) || outputTail(result.stdout) || 'no output';
      throw new PluginError(`manual ${kind} hook exited ${result.exitCode} for ${name}: ${tail}`);
    }
    return result;
  }

  /** What to publish, for a human; `txt` says where a dns-01 value goes and what else is there. */
  function instructions(task: ChallengeTask, txt: TxtRecordChange | undefined): string[] {
    const lines: string[] = [];
    if (task.type === 'http-01') {
      lines.push(
        'Create a file containing just this data:',
        '',
        task.keyAuthorization,
        '',
        'and make it available on your web server at this URL:',
        '',
        `http://${hostForUrl(task)}${task.path}`,
      );
    } else if (task.type === 'dns-01' && txt !== undefined) {
      lines.push(
        `Publish a DNS TXT record for ${displayName(task)}:`,
        '',
        // The final dot marks a fully qualified name: zone editors otherwise append the zone again.
        `  name:  ${txt.name}.`,
        '  type:  TXT',
        `  value: ${txt.value}`,
      );
      if (txt.values.length > 1) {
        lines.push(
          '',
          'This name already has a value from a previous step: publish both TXT records (DNS allows several).',
        );
      }
    }
    if (shownInstructions > 0) {
      lines.push('', 'Keep what you published in the previous steps in place until acmecli is done.');
    }
    lines.push('', 'Press Enter once it is in place.');
    return lines;
  }

  /** The auth hook, or the instructions and Enter. `txt`: the dns-01 record, from the coordinator. */
  async function publish(task: Http01Task | Dns01Task, signal: AbortSignal, txt?: TxtRecordChange): Promise<void> {
    throwIfAborted(signal);
    authOutputs.set(taskKey(task), '');
    if (options.authHook !== undefined) {
      const env = buildHookEnv(task, txt === undefined ? {} : { txtName: txt.name });
      await runHook('auth', options.authHook, task, env, signal);
    } else {
      if (context.prompt === undefined) {
        throw new UsageError('--manual needs --manual-auth-hook in non-interactive mode');
      }
      const lines = instructions(task, txt);
      shownInstructions += 1;
      await context.prompt(lines, signal);
    }
  }

  /** The cleanup hook, or a note of what the user may remove now. */
  async function unpublish(task: Http01Task | Dns01Task, signal: AbortSignal, txt?: TxtRecordChange): Promise<void> {
    const key = taskKey(task);
    const authOutput = authOutputs.get(key) ?? '';
    authOutputs.delete(key);
    if (options.cleanupHook !== undefined) {
      const env = buildHookEnv(task, { authOutput, ...(txt === undefined ? {} : { txtName: txt.name }) });
      await runHook('cleanup', options.cleanupHook, task, env, signal);
    } else if (options.authHook === undefined) {
      log.info(
        task.type === 'http-01'
          ? `manual: you can now remove http://${hostForUrl(task)}${task.path}`
          : `manual: you can now remove the TXT record ${txt?.name ?? task.recordName}. with value ${task.txtValue}`,
      );
    }
  }

  // dns-01 goes through the coordinator: hooks get `_acme-challenge.<name>` (or the alias name)
  // and follow a CNAME themselves, as certbot hooks do; the propagation check follows it too.
  const dns = createDns01Solver(
    {
      name: 'manual',
      followsCnames: true,
      add: (change, signal) => publish(change.task, signal, change),
      remove: (change, signal) => unpublish(change.task, signal, change),
    },
    context,
  );

  return {
    name: 'manual',
    maxConcurrency: 1,

    async prepare(_plan: SolvePlan): Promise<void> {
      if (options.authHook === undefined && context.prompt === undefined) {
        throw new UsageError('--manual needs --manual-auth-hook in non-interactive mode', {
          hint: 'give a script that publishes the challenge, as with certbot --manual-auth-hook',
        });
      }
    },

    async present(task: ChallengeTask, signal: AbortSignal): Promise<void> {
      if (task.type === 'dns-01') return dns.present(task, signal);
      if (task.type !== 'http-01') throw new PluginError(`the manual plugin cannot solve ${task.type}`);
      await publish(task, signal);
    },

    waitUntilVisible: (task, signal) => dns.waitUntilVisible(task, signal),

    async cleanUp(task: ChallengeTask, signal: AbortSignal): Promise<void> {
      if (task.type === 'dns-01') return dns.cleanUp(task, signal);
      if (task.type === 'http-01' && authOutputs.has(taskKey(task))) await unpublish(task, signal);
    },
  };
}
