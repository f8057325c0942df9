/**
 * systemd back end: acmecli-renew.service (Type=oneshot) + acmecli-renew.timer, in
 * /etc/systemd/system for root or the user unit directory otherwise, enabled with systemctl.
 */
import { posix } from 'node:path';
import { LocalError, messageOf } from '../errors.js';
import { atomicWrite, ensureDir } from '../store/atomic-write.js';
import { exists, removeFile } from '../store/fs.js';
import { readTrustedFile } from '../store/trust.js';
import { SYSTEMD_SERVICE_NAME, SYSTEMD_TIMER_NAME, execStartOf, systemdUnits, type JobCommand } from './jobs.js';
import {
  QUICK_TIMEOUT_MS,
  ROOT_HINT,
  SYSTEMCTL_TIMEOUT_MS,
  details,
  firstLine,
  hostPath,
  run,
  withRootHint,
  type KindRemoval,
  type ScheduleEnvironment,
  type ScheduleStatus,
} from './host.js';

export type SystemdKind = 'systemd' | 'systemd-user';

function systemdUnitDir(env: ScheduleEnvironment, kind: SystemdKind): string {
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

function systemdFiles(env: ScheduleEnvironment, kind: SystemdKind): { service: string; timer: string } {
  const dir = systemdUnitDir(env, kind);
  return { service: posix.join(dir, SYSTEMD_SERVICE_NAME), timer: posix.join(dir, SYSTEMD_TIMER_NAME) };
}

export async function installSystemd(env: ScheduleEnvironment, kind: SystemdKind, job: JobCommand): Promise<void> {
  const user = kind === 'systemd-user';
  const paths = systemdFiles(env, kind);
  const units = systemdUnits({ command: job, user });
  const reinstall = exists(paths.timer) || exists(paths.service);
  // 0755: the user manager only needs to read it; other users may list timers too.
  if (user) await withRootHint(() => ensureDir(posix.dirname(paths.service), 0o755));
  await withRootHint(() => atomicWrite(paths.service, units.service, { mode: 0o644 }));
  await withRootHint(() => atomicWrite(paths.timer, units.timer, { mode: 0o644 }));
  await systemctl(env, user, ['daemon-reload']);
  await systemctl(env, user, ['enable', '--now', SYSTEMD_TIMER_NAME]);
  // An already-running timer keeps its old elapse time until restarted.
  if (reinstall) await systemctl(env, user, ['restart', SYSTEMD_TIMER_NAME]);
}

export async function removeSystemd(env: ScheduleEnvironment, kind: SystemdKind): Promise<KindRemoval | undefined> {
  let paths: { service: string; timer: string };
  try {
    paths = systemdFiles(env, kind);
  } catch {
    return undefined;
  }
  const present = [];
  for (const path of [paths.timer, paths.service]) if (exists(path)) present.push(path);
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

export async function systemdStatus(
  env: ScheduleEnvironment,
  kind: SystemdKind,
  preview: string,
): Promise<ScheduleStatus> {
  let paths: { service: string; timer: string };
  try {
    paths = systemdFiles(env, kind);
  } catch (error) {
    return { installed: false, kind, files: [], command: preview, details: messageOf(error) };
  }
  const files = [paths.service, paths.timer];
  const service = readTrustedFile(paths.service);
  const timer = readTrustedFile(paths.timer);
  if (service === undefined && timer === undefined) {
    return { installed: false, kind, files, command: preview };
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
    const reason = firstLine(listed.stderr, listed.stdout, listed.exitCode);
    notes.push(`${systemctlCommand(user, args)} failed: ${reason}`);
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
  if (name === undefined) {
    return 'user timers run only while you are logged in, unless lingering is enabled: loginctl enable-linger';
  }
  if (exists(hostPath(env, posix.join('/var/lib/systemd/linger', name)))) return undefined;
  return `user timers run only while ${name} is logged in, unless lingering is enabled: loginctl enable-linger ${name}`;
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
  let hint: string;
  if (user && busProblem) {
    hint =
      'no user service manager is reachable from this session (su, sudo -u?): ' +
      'log in as the user directly, or install as root';
  } else if (user) {
    hint = 'see `journalctl --user -xe`';
  } else {
    hint = /access denied|permission|interactive authentication/i.test(line) ? ROOT_HINT : 'see `journalctl -xe`';
  }
  throw new LocalError(`${command} failed: ${line}`, { hint });
}
