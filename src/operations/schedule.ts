/**
 * `acmecli schedule install | remove | show`: a job that runs `acmecli renew --quiet` twice a day
 * with random jitter, the way certbot's packages do, through whatever scheduler the machine has:
 *
 *   kind           when                                         where
 *   systemd        Linux, systemd running, root                 /etc/systemd/system/acmecli-renew.{service,timer}
 *   systemd-user   Linux, systemd running, not root             ~/.config/systemd/user/acmecli-renew.{service,timer}
 *   cron           Linux without systemd, root, /etc/cron.d     /etc/cron.d/acmecli
 *   crontab        other Linux and POSIX (macOS)                a line ending `# acmecli renew` in `crontab -l`
 *   schtasks       Windows                                      task "acmecli renew" (SYSTEM when elevated)
 *
 * "systemd running" is systemd's own test (sd_booted: /run/systemd/system exists) plus `systemctl`
 * on PATH. Everything the operation touches comes from a ScheduleEnvironment, so tests run it
 * against a temp root directory and a fake runCommand; `scheduleEnvironment()` builds the real one
 * from what the CLI knows of its process.
 */
import { resolve as resolvePath } from 'node:path';
import { LocalError, UsageError } from '../errors.js';
import {
  cronFileStatus,
  crontabStatus,
  installCronFile,
  installCrontab,
  removeCronFile,
  removeCrontab,
} from '../schedule/cron.js';
import {
  ROOT_HINT,
  SCHEDULE_KINDS,
  details,
  hostPath,
  isDirectory,
  isRoot,
  systemdRunning,
  type KindRemoval,
  type ScheduleEnvironment,
  type ScheduleKind,
  type ScheduleStatus,
} from '../schedule/host.js';
import { renewJobCommand, resolveAcmecliCommand, schtasksTaskRun, type JobCommand } from '../schedule/jobs.js';
import { cronCommandLine, systemdCommandLine } from '../schedule/quoting.js';
import { installSchtasks, removeSchtasks, schtasksStatus } from '../schedule/schtasks.js';
import { installSystemd, removeSystemd, systemdStatus } from '../schedule/systemd.js';

export {
  cronEntry,
  cronFile,
  crontabWithEntry,
  crontabWithoutEntry,
  renewJobCommand,
  resolveAcmecliCommand,
  schtasksCreateArgs,
  systemdUnits,
} from '../schedule/jobs.js';
export type { AcmecliCommand, JobCommand } from '../schedule/jobs.js';
export { SCHEDULE_KINDS, type ScheduleEnvironment, type ScheduleKind, type ScheduleStatus } from '../schedule/host.js';

export interface InstallScheduleOptions {
  /** Arguments passed on to `renew` (`--config-dir DIR`, `--server URL`); paths already absolute. */
  renewArgs: string[];
  /** Overrides detection, e.g. `crontab` on a systemd machine. Must suit the platform and user. */
  kind?: ScheduleKind;
}

export interface RemoveScheduleResult {
  removed: boolean;
  kind: ScheduleKind;
  files: string[];
  details?: string;
}

// ---------------------------------------------------------------------------------------------
// Detection

export async function detectScheduleKind(env: ScheduleEnvironment): Promise<ScheduleKind> {
  if (env.platform === 'win32') return 'schtasks';
  if (env.platform !== 'linux') return 'crontab';
  if (await systemdRunning(env)) return isRoot(env) ? 'systemd' : 'systemd-user';
  if (isRoot(env) && (await isDirectory(hostPath(env, '/etc/cron.d')))) return 'cron';
  return 'crontab';
}

/** Kinds `show` looks at, most likely first: a user also sees a system-wide schedule. */
async function showKinds(env: ScheduleEnvironment): Promise<ScheduleKind[]> {
  const detected = await detectScheduleKind(env);
  const all: ScheduleKind[] =
    env.platform === 'win32'
      ? ['schtasks']
      : env.platform !== 'linux'
        ? ['crontab']
        : isRoot(env)
          ? ['systemd', 'cron', 'crontab']
          : ['systemd-user', 'crontab', 'systemd', 'cron'];
  return [detected, ...all.filter((kind) => kind !== detected)];
}

/** Kinds `remove` may remove: only what this user could have installed. */
async function removableKinds(env: ScheduleEnvironment): Promise<ScheduleKind[]> {
  const kinds = await showKinds(env);
  return kinds.filter((kind) => isRoot(env) || (kind !== 'systemd' && kind !== 'cron'));
}

async function checkKind(env: ScheduleEnvironment, kind: ScheduleKind): Promise<void> {
  if (!SCHEDULE_KINDS.includes(kind)) {
    throw new UsageError(`unknown schedule kind ${JSON.stringify(kind)}; known: ${SCHEDULE_KINDS.join(', ')}`);
  }
  if ((env.platform === 'win32') !== (kind === 'schtasks')) {
    throw new UsageError(`schedule kind ${kind} is not available on ${env.platform}`);
  }
  if ((kind === 'systemd' || kind === 'cron') && !isRoot(env)) {
    throw new LocalError(`installing a ${kind} schedule writes to /etc and needs root`, { hint: ROOT_HINT });
  }
  if ((kind === 'systemd' || kind === 'systemd-user') && !(await systemdRunning(env))) {
    throw new LocalError('systemd is not running here (no /run/systemd/system, or no systemctl on PATH)', {
      hint: 'use the cron schedule instead',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Operations

export async function installSchedule(
  env: ScheduleEnvironment,
  options: InstallScheduleOptions,
): Promise<ScheduleStatus> {
  const kind = options.kind ?? (await detectScheduleKind(env));
  await checkKind(env, kind);
  const job = jobFor(env, kind, options.renewArgs);
  switch (kind) {
    case 'systemd':
    case 'systemd-user':
      await installSystemd(env, kind, job);
      break;
    case 'cron':
      await installCronFile(env, job);
      break;
    case 'crontab':
      await installCrontab(env, job);
      break;
    case 'schtasks':
      await installSchtasks(env, job);
      break;
  }
  const status = await statusOf(env, kind);
  if (!status.installed) {
    throw new LocalError(`the ${kind} schedule was written but cannot be read back`);
  }
  return withNotes(status, [npxWarning(env), ...(await otherSchedules(env, kind))]);
}

/** A schedule of another kind left from an earlier install would renew a second time. */
async function otherSchedules(env: ScheduleEnvironment, installed: ScheduleKind): Promise<string[]> {
  const notes: string[] = [];
  for (const kind of await removableKinds(env)) {
    if (kind === installed) continue;
    const status = await statusOf(env, kind).catch(() => undefined);
    if (status?.installed === true) {
      const where = status.files.length > 0 ? ` (${status.files.join(', ')})` : '';
      notes.push(`a ${kind} schedule is installed too${where}; \`acmecli schedule remove\` removes both`);
    }
  }
  return notes;
}

export async function removeSchedule(env: ScheduleEnvironment): Promise<RemoveScheduleResult> {
  const kinds = await removableKinds(env);
  const removedKinds: ScheduleKind[] = [];
  const files: string[] = [];
  const notes: string[] = [];
  for (const kind of kinds) {
    const result = await removeKind(env, kind);
    if (result === undefined) continue;
    removedKinds.push(kind);
    files.push(...result.files);
    notes.push(...result.notes);
  }
  const kind = removedKinds[0] ?? (kinds[0] as ScheduleKind);
  if (removedKinds.length === 0) {
    notes.push('no acmecli schedule was installed');
    if (!isRoot(env) && env.platform === 'linux') {
      for (const systemKind of ['systemd', 'cron'] as const) {
        const status = await statusOf(env, systemKind).catch(() => undefined);
        if (status?.installed === true) {
          notes.push(`a system-wide ${systemKind} schedule exists (${status.files.join(', ')}); remove it as root`);
        }
      }
    }
  } else if (removedKinds.length > 1) {
    notes.push(`removed ${removedKinds.join(' and ')} schedules`);
  }
  return { removed: removedKinds.length > 0, kind, files, ...details(notes) };
}

export async function showSchedule(env: ScheduleEnvironment): Promise<ScheduleStatus> {
  const kinds = await showKinds(env);
  for (const kind of kinds) {
    const status = await statusOf(env, kind);
    if (status.installed) return withNotes(status, [npxWarning(env)]);
  }
  return statusOf(env, kinds[0] as ScheduleKind);
}

/** What the job runs: acmecli, `renew`, the user's arguments, --quiet, and --random-sleep off systemd. */
function jobFor(env: ScheduleEnvironment, kind: ScheduleKind, renewArgs: readonly string[]): JobCommand {
  const acmecli = resolveAcmecliCommand({ execPath: env.execPath, scriptPath: env.scriptPath, isSea: env.isSea });
  const randomSleep = kind !== 'systemd' && kind !== 'systemd-user';
  return renewJobCommand(acmecli, { renewArgs, randomSleep });
}

function commandText(kind: ScheduleKind, job: JobCommand): string {
  switch (kind) {
    case 'systemd':
    case 'systemd-user':
      return systemdCommandLine(job.executable, job.args);
    case 'cron':
    case 'crontab':
      return cronCommandLine([job.executable, ...job.args]);
    case 'schtasks':
      return schtasksTaskRun(job);
  }
}

function previewCommand(env: ScheduleEnvironment, kind: ScheduleKind): string {
  try {
    return commandText(kind, jobFor(env, kind, []));
  } catch {
    return '';
  }
}

async function statusOf(env: ScheduleEnvironment, kind: ScheduleKind): Promise<ScheduleStatus> {
  const preview = previewCommand(env, kind);
  switch (kind) {
    case 'systemd':
    case 'systemd-user':
      return systemdStatus(env, kind, preview);
    case 'cron':
      return cronFileStatus(env, preview);
    case 'crontab':
      return crontabStatus(env, preview);
    case 'schtasks':
      return schtasksStatus(env, preview);
  }
}

async function removeKind(env: ScheduleEnvironment, kind: ScheduleKind): Promise<KindRemoval | undefined> {
  switch (kind) {
    case 'systemd':
    case 'systemd-user':
      return removeSystemd(env, kind);
    case 'cron':
      return removeCronFile(env);
    case 'crontab':
      return removeCrontab(env);
    case 'schtasks':
      return removeSchtasks(env);
  }
}

// ---------------------------------------------------------------------------------------------
// Plumbing

/** What the process running acmecli tells about itself (the CLI's runtime has these fields). */
export type ScheduleHost = Omit<ScheduleEnvironment, 'rootDir' | 'random'>;

/** The environment of a real run: the host's root directory, and the script's path made absolute. */
export function scheduleEnvironment(host: ScheduleHost): ScheduleEnvironment {
  return {
    platform: host.platform,
    uid: host.uid,
    env: host.env,
    execPath: host.execPath,
    scriptPath: host.scriptPath === undefined ? undefined : resolvePath(host.scriptPath),
    isSea: host.isSea,
    rootDir: '/',
    runCommand: host.runCommand,
  };
}

function withNotes(status: ScheduleStatus, notes: readonly (string | undefined)[]): ScheduleStatus {
  return { ...status, ...details([status.details, ...notes]) };
}

/** npx runs packages from a cache it cleans: a job pointing there breaks some day. */
function npxWarning(env: ScheduleEnvironment): string | undefined {
  if (env.isSea || env.scriptPath === undefined || !/[\\/]_npx[\\/]/.test(env.scriptPath)) return undefined;
  return (
    'acmecli runs from the npx cache, which npm cleans: install acmecli ' +
    '(npm install -g, or the single binary) and reinstall the schedule'
  );
}
