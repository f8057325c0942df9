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
 * against a temp root directory and a fake runCommand; `defaultScheduleEnvironment()` is the only
 * place that reads `process`.
 */
import { access, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { posix, resolve as resolvePath, win32 } from 'node:path';
import { isSea as nodeIsSea } from 'node:sea';
import { LocalError, UsageError, messageOf } from '../errors.js';
import { CommandTimeoutError, runCommand as shellRunCommand, type RunCommand } from '../hooks/run-command.js';
import { atomicWrite, codeOf, ensureDir, localErrorFor } from '../store/atomic-write.js';
import {
  CRON_FILE_PATH,
  SCHTASKS_TASK_NAME,
  SYSTEMD_SERVICE_NAME,
  SYSTEMD_TIMER_NAME,
  cronEntry,
  cronEntryCommand,
  cronFile,
  cronSchedule,
  crontabWithEntry,
  crontabWithoutEntry,
  execStartOf,
  findCronEntry,
  randomCronTime,
  renewJobCommand,
  resolveAcmecliCommand,
  schtasksCreateArgs,
  schtasksDeleteArgs,
  schtasksListField,
  schtasksQueryArgs,
  schtasksStartTime,
  schtasksTaskRun,
  systemdUnits,
  taskRunFromXml,
  windowsArgs,
  type JobCommand,
} from '../schedule/jobs.js';
import { cmdEscape, cronCommandLine, systemdCommandLine } from '../schedule/quoting.js';

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

export type ScheduleKind = 'systemd' | 'systemd-user' | 'cron' | 'crontab' | 'schtasks';

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['systemd', 'systemd-user', 'cron', 'crontab', 'schtasks'];

export interface ScheduleEnvironment {
  platform: NodeJS.Platform;
  /** process.getuid?.(); undefined on Windows. */
  uid: number | undefined;
  env: Record<string, string | undefined>;
  /** process.execPath: the single binary, or node. */
  execPath: string;
  /** process.argv[1], absolute; the script node runs (ignored when isSea). */
  scriptPath: string | undefined;
  isSea: boolean;
  /** Prefix for every absolute POSIX path looked at or written ('/' normally; a temp dir in tests). */
  rootDir: string;
  runCommand: RunCommand;
  /** Picks the cron / Task Scheduler start time; Math.random by default. */
  random?: () => number;
}

export interface ScheduleStatus {
  installed: boolean;
  kind: ScheduleKind;
  /** Files written by install (none for crontab and schtasks, which keep their own storage). */
  files: string[];
  /** The job's command line as the scheduler has it (when not installed: what install would set). */
  command: string;
  /** systemd: the NEXT column of `systemctl list-timers`; Windows: "Next Run Time". */
  nextRun?: string;
  /** When it runs, in the scheduler's own terms (`OnCalendar=...`, `17 3,15 * * *`). */
  schedule?: string;
  /** Human notes: raw scheduler output, warnings (user timer without linger, npx cache path). */
  details?: string;
}

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

const ROOT_HINT = 'run as root, or as your user to get a user timer (or your own crontab)';
const SYSTEMCTL_TIMEOUT_MS = 60_000;
const QUICK_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Detection

export async function detectScheduleKind(env: ScheduleEnvironment): Promise<ScheduleKind> {
  if (env.platform === 'win32') return 'schtasks';
  if (env.platform !== 'linux') return 'crontab';
  if (await systemdRunning(env)) return isRoot(env) ? 'systemd' : 'systemd-user';
  if (isRoot(env) && (await isDirectory(hostPath(env, '/etc/cron.d')))) return 'cron';
  return 'crontab';
}

function isRoot(env: ScheduleEnvironment): boolean {
  return env.uid === 0;
}

async function systemdRunning(env: ScheduleEnvironment): Promise<boolean> {
  return (await isDirectory(hostPath(env, '/run/systemd/system'))) && (await onPath(env, 'systemctl'));
}

async function onPath(env: ScheduleEnvironment, name: string): Promise<boolean> {
  for (const dir of (env.env['PATH'] ?? '').split(':')) {
    if (!dir.startsWith('/')) continue;
    if (await exists(hostPath(env, posix.join(dir, name)))) return true;
  }
  return false;
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
  return withNotes(status, [npxWarning(env)]);
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

/** What the job runs, or '' when acmecli cannot tell its own path (only matters to install). */
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
  switch (kind) {
    case 'systemd':
    case 'systemd-user':
      return systemdStatus(env, kind);
    case 'cron':
      return cronFileStatus(env);
    case 'crontab':
      return crontabStatus(env);
    case 'schtasks':
      return schtasksStatus(env);
  }
}

async function removeKind(
  env: ScheduleEnvironment,
  kind: ScheduleKind,
): Promise<{ files: string[]; notes: string[] } | undefined> {
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
// systemd

function systemdUnitDir(env: ScheduleEnvironment, kind: 'systemd' | 'systemd-user'): string {
  if (kind === 'systemd') return hostPath(env, '/etc/systemd/system');
  const xdg = env.env['XDG_CONFIG_HOME'];
  // The XDG spec says relative values are invalid and must be ignored; systemd does the same.
  if (xdg !== undefined && xdg.startsWith('/')) return hostPath(env, posix.join(xdg, 'systemd', 'user'));
  const home = env.env['HOME'];
  if (home === undefined || !home.startsWith('/')) {
    throw new LocalError('cannot find the user unit directory: HOME is not set');
  }
  return hostPath(env, posix.join(home, '.config', 'systemd', 'user'));
}

function systemdFiles(env: ScheduleEnvironment, kind: 'systemd' | 'systemd-user'): { service: string; timer: string } {
  const dir = systemdUnitDir(env, kind);
  return { service: posix.join(dir, SYSTEMD_SERVICE_NAME), timer: posix.join(dir, SYSTEMD_TIMER_NAME) };
}

async function installSystemd(env: ScheduleEnvironment, kind: 'systemd' | 'systemd-user', job: JobCommand): Promise<void> {
  const user = kind === 'systemd-user';
  const paths = systemdFiles(env, kind);
  const units = systemdUnits({ command: job, user });
  const reinstall = (await exists(paths.timer)) || (await exists(paths.service));
  // 0755: the user manager only needs to read it; other users may list timers too.
  if (user) await withRootHint(() => ensureDir(posix.dirname(paths.service), 0o755));
  await withRootHint(() => atomicWrite(paths.service, units.service, { mode: 0o644 }));
  await withRootHint(() => atomicWrite(paths.timer, units.timer, { mode: 0o644 }));
  await systemctl(env, user, ['daemon-reload']);
  await systemctl(env, user, ['enable', '--now', SYSTEMD_TIMER_NAME]);
  // An already-running timer keeps its old elapse time until restarted.
  if (reinstall) await systemctl(env, user, ['restart', SYSTEMD_TIMER_NAME]);
}

async function removeSystemd(
  env: ScheduleEnvironment,
  kind: 'systemd' | 'systemd-user',
): Promise<{ files: string[]; notes: string[] } | undefined> {
  let paths: { service: string; timer: string };
  try {
    paths = systemdFiles(env, kind);
  } catch {
    return undefined;
  }
  const present = [];
  for (const path of [paths.timer, paths.service]) if (await exists(path)) present.push(path);
  if (present.length === 0) return undefined;
  const user = kind === 'systemd-user';
  const notes: string[] = [];
  // Disabling first stops the timer; if systemctl cannot be reached the files still go, and the
  // manager forgets the units at its next daemon-reload or restart.
  const disabled = await systemctl(env, user, ['disable', '--now', SYSTEMD_TIMER_NAME], { allowFailure: true });
  if (disabled !== undefined) notes.push(disabled);
  for (const path of present) await withRootHint(() => removeFile(path));
  const reloaded = await systemctl(env, user, ['daemon-reload'], { allowFailure: true });
  if (reloaded !== undefined) notes.push(reloaded);
  return { files: present, notes };
}

async function systemdStatus(env: ScheduleEnvironment, kind: 'systemd' | 'systemd-user'): Promise<ScheduleStatus> {
  let paths: { service: string; timer: string };
  try {
    paths = systemdFiles(env, kind);
  } catch (error) {
    return { installed: false, kind, files: [], command: previewCommand(env, kind), details: messageOf(error) };
  }
  const files = [paths.service, paths.timer];
  const service = await readIfExists(paths.service);
  const timer = await readIfExists(paths.timer);
  if (service === undefined && timer === undefined) {
    return { installed: false, kind, files, command: previewCommand(env, kind) };
  }
  const user = kind === 'systemd-user';
  const notes: (string | undefined)[] = [];
  if (service === undefined) notes.push(`${paths.service} is missing: reinstall`);
  if (timer === undefined) notes.push(`${paths.timer} is missing: reinstall`);
  const onCalendar = timer === undefined ? undefined : unitValue(timer, 'OnCalendar');
  const delay = timer === undefined ? undefined : unitValue(timer, 'RandomizedDelaySec');
  let nextRun: string | undefined;
  const args = ['list-timers', '--all', '--no-pager', SYSTEMD_TIMER_NAME];
  const listed = await run(env, systemctlCommand(user, args), QUICK_TIMEOUT_MS).catch((error: unknown) => ({
    exitCode: -1,
    stdout: '',
    stderr: messageOf(error),
  }));
  if (listed.exitCode === 0) {
    nextRun = nextFromListTimers(listed.stdout);
    notes.push(listed.stdout.trim());
  } else {
    notes.push(`${systemctlCommand(user, args)} failed: ${firstLine(listed.stderr, listed.stdout, listed.exitCode)}`);
  }
  if (user) notes.push(await lingerNote(env));
  return {
    installed: true,
    kind,
    files,
    command: (service === undefined ? undefined : execStartOf(service)) ?? '',
    ...(nextRun === undefined ? {} : { nextRun }),
    ...(onCalendar === undefined
      ? {}
      : { schedule: `OnCalendar=${onCalendar}${delay === undefined ? '' : ` RandomizedDelaySec=${delay}`}` }),
    ...details(notes),
  };
}

function unitValue(text: string, key: string): string | undefined {
  for (const line of text.split('\n')) {
    const match = new RegExp(`^\\s*${key}\\s*=\\s*(.*?)\\s*$`).exec(line);
    if (match !== null) return match[1];
  }
  return undefined;
}

/**
 * The NEXT column of `systemctl list-timers`: columns are aligned under the header, so the value is
 * whatever lies before the LEFT header on our timer's row. `n/a` or `-` means not scheduled.
 */
export function nextFromListTimers(output: string): string | undefined {
  const lines = output.split('\n');
  const header = lines.find((line) => /^\s*NEXT\s/.test(line));
  const row = lines.find((line) => line.includes(SYSTEMD_TIMER_NAME));
  if (header === undefined || row === undefined) return undefined;
  const end = header.indexOf('LEFT');
  if (end <= 0) return undefined;
  const value = row.slice(0, end).trim();
  return value === '' || value === 'n/a' || value === '-' ? undefined : value;
}

/** A user's timers stop with their last session unless lingering is on (logind). */
async function lingerNote(env: ScheduleEnvironment): Promise<string | undefined> {
  const name = env.env['USER'] ?? env.env['LOGNAME'];
  if (name !== undefined && (await exists(hostPath(env, posix.join('/var/lib/systemd/linger', name))))) {
    return undefined;
  }
  return `user timers run only while ${name ?? 'you are'}${name === undefined ? '' : ' is'} logged in, unless lingering is enabled: loginctl enable-linger${name === undefined ? '' : ` ${name}`}`;
}

interface SystemctlOptions {
  /** Return the failure as a note instead of throwing. */
  allowFailure?: boolean;
}

function systemctlCommand(user: boolean, args: readonly string[]): string {
  // Only fixed words: nothing here needs shell quoting.
  return ['systemctl', ...(user ? ['--user'] : []), ...args].join(' ');
}

async function systemctl(
  env: ScheduleEnvironment,
  user: boolean,
  args: readonly string[],
  options: SystemctlOptions = {},
): Promise<string | undefined> {
  const command = systemctlCommand(user, args);
  const result = await run(env, command, SYSTEMCTL_TIMEOUT_MS);
  if (result.exitCode === 0) return undefined;
  const line = firstLine(result.stderr, result.stdout, result.exitCode);
  if (options.allowFailure === true) return `${command} failed: ${line}`;
  const busProblem = /bus|XDG_RUNTIME_DIR|DBUS/i.test(line);
  const hint = user
    ? busProblem
      ? 'no user service manager is reachable from this session (su, sudo -u, cron?): log in as the user directly, or install as root'
      : 'see `journalctl --user -xe`'
    : /access denied|permission|interactive authentication/i.test(line)
      ? ROOT_HINT
      : 'see `journalctl -xe`';
  throw new LocalError(`${command} failed: ${line}`, { hint });
}

// ---------------------------------------------------------------------------------------------
// /etc/cron.d

function cronFilePath(env: ScheduleEnvironment): string {
  return hostPath(env, CRON_FILE_PATH);
}

async function installCronFile(env: ScheduleEnvironment, job: JobCommand): Promise<void> {
  const time = randomCronTime(env.random ?? Math.random);
  // cron ignores files in /etc/cron.d that are group- or world-writable: 0644 exactly.
  const text = cronFile({ ...time, command: job, user: 'root' });
  await withRootHint(() => atomicWrite(cronFilePath(env), text, { mode: 0o644 }));
}

async function removeCronFile(env: ScheduleEnvironment): Promise<{ files: string[]; notes: string[] } | undefined> {
  const path = cronFilePath(env);
  if (!(await exists(path))) return undefined;
  await withRootHint(() => removeFile(path));
  return { files: [path], notes: [] };
}

async function cronFileStatus(env: ScheduleEnvironment): Promise<ScheduleStatus> {
  const path = cronFilePath(env);
  const text = await readIfExists(path);
  const line = text === undefined ? undefined : findCronEntry(text);
  if (text === undefined) return { installed: false, kind: 'cron', files: [path], command: previewCommand(env, 'cron') };
  if (line === undefined) {
    return { installed: true, kind: 'cron', files: [path], command: '', details: `${path} has no acmecli renew line` };
  }
  return {
    installed: true,
    kind: 'cron',
    files: [path],
    command: cronEntryCommand(line, true),
    schedule: cronFields(line),
  };
}

function cronFields(line: string): string {
  return line.trim().split(/\s+/).slice(0, 5).join(' ');
}

// ---------------------------------------------------------------------------------------------
// crontab (a user's own; root's on Linux without /etc/cron.d; macOS)

type CrontabRead = { available: true; text: string } | { available: false; reason: string };

async function readCrontab(env: ScheduleEnvironment): Promise<CrontabRead> {
  const result = await run(env, 'crontab -l', QUICK_TIMEOUT_MS);
  if (result.exitCode === 0) return { available: true, text: result.stdout };
  const output = `${result.stderr}\n${result.stdout}`;
  if (result.exitCode === 126 || result.exitCode === 127) {
    return { available: false, reason: `crontab is not available: ${firstLine(result.stderr, result.stdout, result.exitCode)}` };
  }
  // cronie/vixie: "no crontab for USER"; busybox: "can't open 'USER': No such file or directory".
  if (/no crontab for|can't open|No such file/i.test(output)) return { available: true, text: '' };
  throw new LocalError(`crontab -l failed: ${firstLine(result.stderr, result.stdout, result.exitCode)}`);
}

async function writeCrontab(env: ScheduleEnvironment, text: string): Promise<void> {
  if (text === '') {
    const result = await run(env, 'crontab -r', QUICK_TIMEOUT_MS);
    if (result.exitCode !== 0) {
      throw new LocalError(`crontab -r failed: ${firstLine(result.stderr, result.stdout, result.exitCode)}`);
    }
    return;
  }
  // runCommand closes stdin, so the new crontab goes through a private temp file; its path
  // travels in the environment, never pasted into the shell command.
  const tempBase = env.env['TMPDIR']?.startsWith('/') === true ? env.env['TMPDIR'] : hostPath(env, '/tmp');
  let dir: string;
  try {
    dir = await mkdtemp(posix.join(tempBase, 'acmecli-crontab-'));
  } catch (error) {
    throw localErrorFor('create a temp directory in', tempBase, error);
  }
  try {
    const file = posix.join(dir, 'crontab');
    await atomicWrite(file, text, { mode: 0o600 });
    const result = await run(env, 'crontab "$ACMECLI_CRONTAB_FILE"', QUICK_TIMEOUT_MS, {
      ACMECLI_CRONTAB_FILE: file,
    });
    if (result.exitCode !== 0) {
      throw new LocalError(`crontab failed: ${firstLine(result.stderr, result.stdout, result.exitCode)}`, {
        hint: 'the current crontab was left unchanged',
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function installCrontab(env: ScheduleEnvironment, job: JobCommand): Promise<void> {
  const current = await readCrontab(env);
  if (!current.available) {
    throw new LocalError(current.reason, {
      hint: `install cron, or run \`${cronCommandLine([job.executable, ...job.args])}\` twice a day from your own scheduler`,
    });
  }
  const time = randomCronTime(env.random ?? Math.random);
  await writeCrontab(env, crontabWithEntry(current.text, cronEntry({ ...time, command: job })));
}

async function removeCrontab(env: ScheduleEnvironment): Promise<{ files: string[]; notes: string[] } | undefined> {
  const current = await readCrontab(env);
  if (!current.available) return undefined;
  const updated = crontabWithoutEntry(current.text);
  if (updated === undefined) return undefined;
  await writeCrontab(env, updated);
  return { files: [], notes: [`removed the acmecli renew line from the crontab of ${userName(env)}`] };
}

async function crontabStatus(env: ScheduleEnvironment): Promise<ScheduleStatus> {
  let current: CrontabRead;
  try {
    current = await readCrontab(env);
  } catch (error) {
    return { installed: false, kind: 'crontab', files: [], command: previewCommand(env, 'crontab'), details: messageOf(error) };
  }
  const line = current.available ? findCronEntry(current.text) : undefined;
  if (line === undefined) {
    return {
      installed: false,
      kind: 'crontab',
      files: [],
      command: previewCommand(env, 'crontab'),
      ...(current.available ? {} : { details: current.reason }),
    };
  }
  return {
    installed: true,
    kind: 'crontab',
    files: [],
    command: cronEntryCommand(line, false),
    schedule: cronFields(line),
    details: `in the crontab of ${userName(env)} (crontab -l)`,
  };
}

function userName(env: ScheduleEnvironment): string {
  return env.env['USER'] ?? env.env['LOGNAME'] ?? (isRoot(env) ? 'root' : 'the current user');
}

// ---------------------------------------------------------------------------------------------
// Windows Task Scheduler

function systemTool(env: ScheduleEnvironment, exe: string): string {
  const root = env.env['SystemRoot'] ?? env.env['SYSTEMROOT'] ?? env.env['windir'];
  // The absolute path: cmd.exe would otherwise look in the current directory first.
  if (root === undefined || !/^[A-Za-z]:\\[^"%&^|<>()!]*$/.test(root) || /\s/.test(root)) return exe;
  return win32.join(root, 'System32', exe);
}

/** The command string for runCommand (cmd.exe /d /s /c) that starts schtasks with `args`. */
export function schtasksCommand(schtasksPath: string, args: readonly string[]): string {
  return `${schtasksPath} ${cmdEscape(windowsArgs(args))}`;
}

async function schtasks(env: ScheduleEnvironment, args: readonly string[]) {
  return run(env, schtasksCommand(systemTool(env, 'schtasks.exe'), args), SYSTEMCTL_TIMEOUT_MS);
}

/** High (S-1-16-12288) or System (S-1-16-16384) integrity level: an elevated token. */
async function isElevated(env: ScheduleEnvironment): Promise<boolean> {
  const result = await run(env, `${systemTool(env, 'whoami.exe')} /groups`, QUICK_TIMEOUT_MS).catch(() => undefined);
  return result !== undefined && result.exitCode === 0 && /S-1-16-(12288|16384)\b/.test(result.stdout);
}

async function installSchtasks(env: ScheduleEnvironment, job: JobCommand): Promise<void> {
  const runAsSystem = await isElevated(env);
  const startTime = schtasksStartTime(randomCronTime(env.random ?? Math.random));
  const result = await schtasks(env, schtasksCreateArgs({ command: job, startTime, runAsSystem }));
  if (result.exitCode !== 0) {
    const line = firstLine(result.stderr, result.stdout, result.exitCode);
    throw new LocalError(`schtasks /Create failed: ${line}`, {
      ...(/denied/i.test(line) ? { hint: 'run from an elevated prompt (Run as administrator)' } : {}),
    });
  }
}

async function removeSchtasks(env: ScheduleEnvironment): Promise<{ files: string[]; notes: string[] } | undefined> {
  const query = await schtasks(env, schtasksQueryArgs('xml'));
  if (query.exitCode !== 0) return undefined;
  const result = await schtasks(env, schtasksDeleteArgs());
  if (result.exitCode !== 0) {
    const line = firstLine(result.stderr, result.stdout, result.exitCode);
    throw new LocalError(`schtasks /Delete failed: ${line}`, {
      ...(/denied/i.test(line) ? { hint: 'run from an elevated prompt (Run as administrator)' } : {}),
    });
  }
  return { files: [], notes: [`deleted the scheduled task "${SCHTASKS_TASK_NAME}"`] };
}

async function schtasksStatus(env: ScheduleEnvironment): Promise<ScheduleStatus> {
  const xml = await schtasks(env, schtasksQueryArgs('xml'));
  if (xml.exitCode !== 0) {
    return { installed: false, kind: 'schtasks', files: [], command: previewCommand(env, 'schtasks') };
  }
  // Some Windows versions write the XML as UTF-16; read through NULs rather than fail.
  const xmlText = xml.stdout.replace(/\u0000/g, '');
  const list = await schtasks(env, schtasksQueryArgs('list'));
  const listText = list.exitCode === 0 ? list.stdout : '';
  const nextRun = schtasksListField(listText, 'Next Run Time');
  const start = /<StartBoundary>[^<]*T(\d\d:\d\d)/.exec(xmlText)?.[1];
  const interval = /<Interval>([^<]+)<\/Interval>/.exec(xmlText)?.[1];
  return {
    installed: true,
    kind: 'schtasks',
    files: [],
    command: taskRunFromXml(xmlText) ?? schtasksListField(listText, 'Task To Run') ?? '',
    ...(nextRun === undefined || nextRun === 'N/A' ? {} : { nextRun }),
    ...(start === undefined ? {} : { schedule: `daily at ${start}${interval === undefined ? '' : `, repeated every ${interval}`}` }),
    ...details([`task "${SCHTASKS_TASK_NAME}"`, listText.trim()]),
  };
}

// ---------------------------------------------------------------------------------------------
// Plumbing

export function defaultScheduleEnvironment(): ScheduleEnvironment {
  const argv1 = process.argv[1];
  return {
    platform: process.platform,
    uid: process.getuid?.(),
    env: process.env,
    execPath: process.execPath,
    scriptPath: argv1 === undefined ? undefined : resolvePath(argv1),
    // pkg's classic (non-SEA) binaries set process.pkg; a SEA answers isSea().
    isSea: nodeIsSea() || 'pkg' in process,
    rootDir: '/',
    runCommand: shellRunCommand,
  };
}

function hostPath(env: ScheduleEnvironment, absolute: string): string {
  return env.rootDir === '/' || env.rootDir === '' ? absolute : posix.join(env.rootDir, absolute);
}

async function run(
  env: ScheduleEnvironment,
  command: string,
  timeoutMs: number,
  extraEnv?: Record<string, string>,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  try {
    return await env.runCommand({ command, timeoutMs, ...(extraEnv === undefined ? {} : { env: extraEnv }) });
  } catch (error) {
    if (error instanceof CommandTimeoutError) {
      throw new LocalError(`${command} did not finish within ${timeoutMs / 1000} s`, { cause: error });
    }
    throw error;
  }
}

function firstLine(stderr: string, stdout: string, exitCode: number): string {
  const line = [stderr, stdout]
    .flatMap((text) => text.split('\n'))
    .map((text) => text.trim())
    .find((text) => text !== '');
  return line ?? `exit status ${exitCode}`;
}

async function withRootHint<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const code = error instanceof LocalError ? codeOf(error.cause) : codeOf(error);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new LocalError(messageOf(error), { hint: ROOT_HINT, cause: error instanceof LocalError ? error.cause : error });
    }
    throw error;
  }
}

async function removeFile(path: string): Promise<void> {
  try {
    await rm(path);
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw localErrorFor('remove', path, error);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw localErrorFor('read', path, error);
  }
}

function details(notes: readonly (string | undefined)[]): { details?: string } {
  const kept = notes.filter((note): note is string => note !== undefined && note !== '');
  return kept.length === 0 ? {} : { details: kept.join('\n') };
}

function withNotes(status: ScheduleStatus, notes: readonly (string | undefined)[]): ScheduleStatus {
  return { ...status, ...details([status.details, ...notes]) };
}

/** npx runs packages from a cache it cleans: a job pointing there breaks some day. */
function npxWarning(env: ScheduleEnvironment): string | undefined {
  if (env.isSea || env.scriptPath === undefined || !/[\\/]_npx[\\/]/.test(env.scriptPath)) return undefined;
  return 'acmecli runs from the npx cache, which npm cleans: install acmecli (npm install -g, or the single binary) and reinstall the schedule';
}
