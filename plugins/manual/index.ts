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
import type { ChallengeTask, SolvePlan, Solver } from '../../src/acme/solver.js';
import { resolveChallengeRecordName } from '../../src/challenges/dns01/cname.js';
import { DnsLookup } from '../../src/challenges/dns01/lookup.js';
import { waitForTxtRecord } from '../../src/challenges/dns01/propagation.js';
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

/** Exists once the auth hook was started (or the instructions shown): clean-up has work. */
interface TaskState {
  /** The auth hook's stdout, trimmed (also kept when the hook failed, for the cleanup hook). */
  authOutput: string;
  /** dns-01: the name the record goes to (ACMECLI_TXT_NAME). */
  txtName?: string;
}

export function createManualSolver(options: ManualOptions, context: PluginContext): Solver {
  const { log } = context;
  const timeoutMs = Math.round(options.hookTimeoutSeconds * 1000);
  const settings = context.dns01;
  const states = new Map<string, TaskState>();
  /** dns-01 values published per record name: wildcard and apex share `_acme-challenge.<name>`. */
  const txtValues = new Map<string, Set<string>>();
  /** Where the CA really reads each record name (CNAME chain or --challenge-alias), memoized. */
  const effectiveNames = new Map<string, Promise<string>>();
  /** One propagation check per record name and value set, shared by the tasks that need it. */
  const checks = new Map<string, Promise<unknown>>();
  let lookup: DnsLookup | undefined;
  let shownInstructions = 0;
  /** TXT names already shown to the user, to say when a second value goes to the same name. */
  const shownTxtNames = new Set<string>();

  async function runHook(
    kind: 'auth' | 'cleanup',
    command: string,
    task: ChallengeTask,
    env: Record<string, string>,
    signal: AbortSignal,
    state?: TaskState,
  ): Promise<RunCommandResult> {
    const name = displayName(task);
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
      if (error instanceof CommandTimeoutError && state !== undefined) state.authOutput = error.stdout.trim();
      if (timedOut(started, error)) throw timeoutError(error);
      throw new PluginError(`manual ${kind} hook failed for ${name}: ${messageOf(error)}`, { cause: error });
    }
    if (state !== undefined) state.authOutput = result.stdout.trim();
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

  function instructions(task: ChallengeTask, txtName: string | undefined): string[] {
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
    } else if (task.type === 'dns-01') {
      const name = txtName ?? task.recordName;
      const sameName = shownTxtNames.has(name);
      shownTxtNames.add(name);
      lines.push(
        `Publish a DNS TXT record for ${displayName(task)}:`,
        '',
        // The final dot marks a fully qualified name: zone editors otherwise append the zone again.
        `  name:  ${name}.`,
        '  type:  TXT',
        `  value: ${task.txtValue}`,
      );
      if (sameName) {
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

  /** The name the CA will read for `recordName`, following --challenge-alias or the CNAME chain. */
  function effectiveName(recordName: string, signal: AbortSignal): Promise<string> {
    let name = effectiveNames.get(recordName);
    if (name === undefined) {
      lookup ??= new DnsLookup(settings.resolvers ? { servers: settings.resolvers } : {});
      name = resolveChallengeRecordName(recordName, settings, lookup, signal);
      effectiveNames.set(recordName, name);
      name.catch(() => effectiveNames.delete(recordName));
    }
    return name;
  }

  /**
   * Where the hook (or the user) must write: the alias name under --challenge-alias (known without
   * any look-up), else the task's own name. A CNAME at that name is the hook's to follow, as it is
   * for certbot hooks; the propagation check follows it too.
   */
  async function writeName(task: ChallengeTask, signal: AbortSignal): Promise<string | undefined> {
    if (task.type !== 'dns-01') return undefined;
    if (settings.challengeAlias === undefined || settings.challengeAlias.trim() === '') return task.recordName;
    return effectiveName(task.recordName, signal);
  }

  function removalNote(task: ChallengeTask, txtName: string | undefined): string | undefined {
    if (task.type === 'http-01') return `manual: you can now remove http://${hostForUrl(task)}${task.path}`;
    if (task.type === 'dns-01') {
      return `manual: you can now remove the TXT record ${txtName ?? task.recordName}. with value ${task.txtValue}`;
    }
    return undefined;
  }

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
      if (task.type !== 'http-01' && task.type !== 'dns-01') {
        throw new PluginError(`the manual plugin cannot solve ${task.type}`);
      }
      throwIfAborted(signal);
      const txtName = await writeName(task, signal);
      const state: TaskState = txtName === undefined ? { authOutput: '' } : { authOutput: '', txtName };
      states.set(taskKey(task), state);

      if (options.authHook !== undefined) {
        const env = buildHookEnv(task, txtName === undefined ? {} : { txtName });
        await runHook('auth', options.authHook, task, env, signal, state);
      } else {
        if (context.prompt === undefined) {
          throw new UsageError('--manual needs --manual-auth-hook in non-interactive mode');
        }
        const lines = instructions(task, txtName);
        shownInstructions += 1;
        await context.prompt(lines, signal);
      }

      if (task.type === 'dns-01') {
        let values = txtValues.get(task.recordName);
        if (values === undefined) txtValues.set(task.recordName, (values = new Set()));
        values.add(task.txtValue);
      }
    },

    async waitUntilVisible(task: ChallengeTask, signal: AbortSignal): Promise<void> {
      if (task.type !== 'dns-01') return;
      const own = txtValues.get(task.recordName) ?? new Set([task.txtValue]);
      // A plain delay or no check at all needs no look-up of where the record really lives.
      const checked = !settings.skipPropagationCheck && settings.propagationWaitMs === undefined;
      let recordName = task.recordName;
      const values = new Set(own);
      if (checked) {
        // Wait for every value the CA will find under the same final name, not just this task's:
        // apex and wildcard share `_acme-challenge.<name>`, and an alias or CNAMEs may merge more.
        // A resolver that shows one of two values is not done yet.
        recordName = await effectiveName(task.recordName, signal);
        for (const [otherName, otherValues] of txtValues) {
          if (otherName === task.recordName || otherValues.size === 0) continue;
          if ((await effectiveName(otherName, signal)) === recordName)
            for (const value of otherValues) values.add(value);
        }
      }
      const sorted = [...values].sort();
      const key = `${recordName}\n${sorted.join('\n')}`;
      const existing = checks.get(key);
      if (existing !== undefined) {
        await existing;
        return;
      }
      lookup ??= new DnsLookup(settings.resolvers ? { servers: settings.resolvers } : {});
      const check = waitForTxtRecord({ recordName, values: sorted, settings, signal, log, resolver: lookup });
      checks.set(key, check);
      // Let a later call retry after a failure instead of replaying the same rejection.
      check.catch(() => checks.delete(key));
      await check;
    },

    async cleanUp(task: ChallengeTask, signal: AbortSignal): Promise<void> {
      const key = taskKey(task);
      const state = states.get(key);
      states.delete(key);
      if (state === undefined) return;
      if (task.type === 'dns-01') txtValues.get(task.recordName)?.delete(task.txtValue);

      if (options.cleanupHook !== undefined) {
        const env = buildHookEnv(task, {
          authOutput: state.authOutput,
          ...(state.txtName === undefined ? {} : { txtName: state.txtName }),
        });
        await runHook('cleanup', options.cleanupHook, task, env, signal);
      } else if (options.authHook === undefined) {
        const note = removalNote(task, state.txtName);
        if (note !== undefined) log.info(note);
      }
    },
  };
}
