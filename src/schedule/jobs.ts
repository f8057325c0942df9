/**
 * Pure builders for the scheduled renewal job: the command it runs and the text or argv each
 * scheduler needs. No file system, no process: `operations/schedule.ts` decides where these go.
 *
 * Timing, the same idea everywhere: twice a day (Let's Encrypt's advice, and certbot's), spread so
 * that installations do not all call the CA at the same moment.
 *   systemd   OnCalendar=*-*-* 00,12:00:00 + RandomizedDelaySec=12h: a fresh random delay of up to
 *             12 h each time (certbot's 43200 s), Persistent=true catches up after downtime.
 *   cron      minute and hour picked at random at install (`M H,H+12 * * *`), plus
 *             `renew --random-sleep` (up to an hour) for jitter per run.
 *   schtasks  the same random start time, repeated every 720 minutes, plus `--random-sleep`.
 */
import { posix, win32 } from 'node:path';
import { LocalError, UsageError } from '../errors.js';
import {
  assertNoControlCharacters,
  cronCommandLine,
  systemdCommandLine,
  windowsCommandLine,
  windowsQuoteArg,
} from './quoting.js';

/** What starts acmecli: the executable and, under `node script.cjs`, the script before the arguments. */
export interface AcmecliCommand {
  executable: string;
  args: string[];
}

export interface ResolveAcmecliCommandInput {
  /** process.execPath: the single binary itself, or the node executable. */
  execPath: string;
  /** process.argv[1]: the script node runs; ignored for a single binary. */
  scriptPath: string | undefined;
  /** A single executable application (Node SEA / pkg --sea), where argv[1] is the binary again. */
  isSea: boolean;
}

/**
 * A single binary runs as itself; `node dist/acmecli.cjs` runs as node + script, both absolute,
 * because the scheduler starts the job from another directory with another PATH.
 */
export function resolveAcmecliCommand(input: ResolveAcmecliCommandInput): AcmecliCommand {
  assertAbsolute(input.execPath, 'the acmecli executable');
  if (input.isSea) return { executable: input.execPath, args: [] };
  if (input.scriptPath === undefined || input.scriptPath === '') {
    throw new LocalError('cannot tell which script runs acmecli (no script path); schedule the job by hand', {
      hint: 'run `acmecli renew --quiet --random-sleep` twice a day from your own scheduler',
    });
  }
  assertAbsolute(input.scriptPath, 'the acmecli script');
  return { executable: input.execPath, args: [input.scriptPath] };
}

function assertAbsolute(path: string, what: string): void {
  if (!posix.isAbsolute(path) && !win32.isAbsolute(path)) {
    throw new LocalError(`${what} path is not absolute: ${path}`);
  }
}

/** The job's whole command: acmecli, `renew`, the user's renew arguments, then our flags. */
export interface JobCommand {
  executable: string;
  /** Everything after the executable. */
  args: string[];
}

export interface RenewJobOptions {
  /** Passed through from `schedule install` (`--config-dir DIR`, `--server URL`), already absolute. */
  renewArgs: readonly string[];
  /** cron and schtasks jitter inside `renew`; systemd jitters in the timer instead. */
  randomSleep: boolean;
}

export function renewJobCommand(acmecli: AcmecliCommand, options: RenewJobOptions): JobCommand {
  for (const arg of options.renewArgs) assertNoControlCharacters(arg, 'renew argument');
  const args = [...acmecli.args, 'renew', ...options.renewArgs];
  if (!hasFlag(options.renewArgs, '--quiet', '-q')) args.push('--quiet');
  // Last, so its optional SECONDS value can never swallow a following argument.
  if (options.randomSleep && !hasFlag(options.renewArgs, '--random-sleep')) args.push('--random-sleep');
  return { executable: acmecli.executable, args };
}

function hasFlag(args: readonly string[], ...names: string[]): boolean {
  return args.some((arg) => names.some((name) => arg === name || arg.startsWith(`${name}=`)));
}

// ---------------------------------------------------------------------------------------------
// systemd

export const SYSTEMD_SERVICE_NAME = 'acmecli-renew.service';
export const SYSTEMD_TIMER_NAME = 'acmecli-renew.timer';
export const SYSTEMD_ON_CALENDAR = '*-*-* 00,12:00:00';
export const SYSTEMD_RANDOMIZED_DELAY = '12h';

export interface SystemdUnitsOptions {
  command: JobCommand;
  /** A user unit (`systemctl --user`): no network-online.target, which only the system manager has. */
  user: boolean;
}

export function systemdUnits(options: SystemdUnitsOptions): { service: string; timer: string } {
  const { command, user } = options;
  const execStart = systemdCommandLine(command.executable, command.args);
  const network = user
    ? []
    : [
        // Renewal needs the network; without this a timer caught up at boot may run before it is up.
        'Wants=network-online.target',
        'After=network-online.target',
      ];
  const service = [
    '# Installed by `acmecli schedule install`; remove with `acmecli schedule remove`.',
    '[Unit]',
    'Description=Renew certificates with acmecli',
    ...network,
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${execStart}`,
    '',
  ].join('\n');
  const timer = [
    '# Installed by `acmecli schedule install`; remove with `acmecli schedule remove`.',
    '[Unit]',
    'Description=Run acmecli renew twice a day',
    '',
    '[Timer]',
    `OnCalendar=${SYSTEMD_ON_CALENDAR}`,
    `RandomizedDelaySec=${SYSTEMD_RANDOMIZED_DELAY}`,
    'Persistent=true',
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  return { service, timer };
}

/** The `ExecStart=` value of a service file, as written (what `show` reports). */
export function execStartOf(serviceText: string): string | undefined {
  for (const line of serviceText.split('\n')) {
    const match = /^\s*ExecStart\s*=\s*(.*?)\s*$/.exec(line);
    if (match !== null) return match[1];
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// cron

/** Ends every cron line we write: finds our line in a crontab (to replace or remove it, never
 *  duplicate it). After the command, sh reads it as a comment. */
export const CRON_MARKER = '# acmecli renew';
export const CRON_FILE_PATH = '/etc/cron.d/acmecli';

export interface CronTime {
  minute: number;
  /** 0–11: the job runs at this hour and twelve hours later. */
  hour: number;
}

/** Picks the install-time minute and hour, spreading installations over the day. */
export function randomCronTime(random: () => number): CronTime {
  return { minute: Math.floor(random() * 60) % 60, hour: Math.floor(random() * 12) % 12 };
}

export interface CronEntryOptions extends CronTime {
  command: JobCommand;
  /** The user field of a system crontab line (/etc/cron.d); absent for a user's crontab. */
  user?: string;
}

export function cronSchedule(time: CronTime): string {
  checkCronTime(time);
  return `${time.minute} ${time.hour},${time.hour + 12} * * *`;
}

function checkCronTime(time: CronTime): void {
  if (!Number.isInteger(time.minute) || time.minute < 0 || time.minute > 59) {
    throw new UsageError(`cron minute out of range: ${time.minute}`);
  }
  if (!Number.isInteger(time.hour) || time.hour < 0 || time.hour > 11) {
    throw new UsageError(`cron hour out of range (0-11): ${time.hour}`);
  }
}

/** One crontab line, without the newline: `M H,H+12 * * * [user] <command> # acmecli renew`. */
export function cronEntry(options: CronEntryOptions): string {
  const user = options.user === undefined ? [] : [options.user];
  const command = cronCommandLine([options.command.executable, ...options.command.args]);
  return [cronSchedule(options), ...user, command, CRON_MARKER].join(' ');
}

/** The whole /etc/cron.d/acmecli file. */
export function cronFile(options: CronEntryOptions & { user: string }): string {
  return [
    '# Installed by `acmecli schedule install`; remove with `acmecli schedule remove`.',
    '# Twice a day at a time picked at install; `--random-sleep` adds up to an hour more.',
    'SHELL=/bin/sh',
    // cron's default PATH lacks the sbin directories, where reload commands (nginx, systemctl) live.
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    cronEntry(options),
    '',
  ].join('\n');
}

export function isCronMarkerLine(line: string): boolean {
  return /\s#\s*acmecli renew\s*$/.test(line) && !/^\s*#/.test(line);
}

/** Our line in a crontab or cron.d file, if any. */
export function findCronEntry(text: string): string | undefined {
  return text.split('\n').find(isCronMarkerLine);
}

/** The command part of one of our cron lines: without the 5 time fields, user field and marker. */
export function cronEntryCommand(line: string, hasUserField: boolean): string {
  const leading = hasUserField ? /^\s*(?:\S+\s+){6}/ : /^\s*(?:\S+\s+){5}/;
  return line
    .replace(leading, '')
    .replace(/\s#\s*acmecli renew\s*$/, '')
    .trimEnd();
}

/**
 * The crontab with our line added, or replacing the one already there; every other line (and
 * the user's comments and variables) is kept in place. A crontab must end with a newline.
 */
export function crontabWithEntry(current: string, entry: string): string {
  const out: string[] = [];
  let placed = false;
  for (const line of splitCrontab(current)) {
    if (!isCronMarkerLine(line)) out.push(line);
    else if (!placed) {
      out.push(entry);
      placed = true;
    }
    // Further lines of ours (a hand-made copy) are dropped: one job, not two.
  }
  if (!placed) out.push(entry);
  return `${out.join('\n')}\n`;
}

/** The crontab without our line(s); `undefined` when there was nothing of ours. */
export function crontabWithoutEntry(current: string): string | undefined {
  const lines = splitCrontab(current);
  const kept = lines.filter((line) => !isCronMarkerLine(line));
  if (kept.length === lines.length) return undefined;
  return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
}

function splitCrontab(text: string): string[] {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Windows Task Scheduler

export const SCHTASKS_TASK_NAME = 'acmecli renew';
/** schtasks refuses a longer /TR ("must not exceed 261 characters"). */
export const SCHTASKS_TASK_RUN_MAX = 261;

export interface SchtasksCreateOptions {
  command: JobCommand;
  /** `HH:MM`, 00:00–11:59; the task also runs 12 hours later. */
  startTime: string;
  /** Elevated install: run as SYSTEM whether anyone is logged on. Otherwise the current user. */
  runAsSystem: boolean;
}

export function schtasksStartTime(time: CronTime): string {
  checkCronTime(time);
  return `${String(time.hour).padStart(2, '0')}:${String(time.minute).padStart(2, '0')}`;
}

/** The Task Scheduler command line (`/TR`): program in plain quotes, arguments C-runtime quoted. */
export function schtasksTaskRun(command: JobCommand): string {
  return windowsCommandLine(command.executable, command.args);
}

/** argv for `schtasks.exe` (without the program). */
export function schtasksCreateArgs(options: SchtasksCreateOptions): string[] {
  if (!/^(0\d|1[01]):[0-5]\d$/.test(options.startTime)) {
    throw new UsageError(`schtasks start time must be HH:MM between 00:00 and 11:59: ${options.startTime}`);
  }
  const taskRun = schtasksTaskRun(options.command);
  if (taskRun.length > SCHTASKS_TASK_RUN_MAX) {
    const limit = SCHTASKS_TASK_RUN_MAX;
    throw new LocalError(
      `the task command line is ${taskRun.length} characters; schtasks accepts ${limit}: ${taskRun}`,
      {
        hint: 'install acmecli in a shorter path, or move renew options into config.ini',
      },
    );
  }
  return [
    '/Create',
    '/F',
    '/TN',
    SCHTASKS_TASK_NAME,
    // DAILY + repeat every 720 min for 24 h = twice a day at startTime and startTime + 12 h.
    '/SC',
    'DAILY',
    '/ST',
    options.startTime,
    '/RI',
    '720',
    '/DU',
    '24:00',
    '/TR',
    taskRun,
    ...(options.runAsSystem ? ['/RU', 'SYSTEM'] : []),
  ];
}

export function schtasksDeleteArgs(): string[] {
  return ['/Delete', '/F', '/TN', SCHTASKS_TASK_NAME];
}

export function schtasksQueryArgs(format: 'list' | 'xml'): string[] {
  return format === 'xml'
    ? ['/Query', '/TN', SCHTASKS_TASK_NAME, '/XML']
    : ['/Query', '/TN', SCHTASKS_TASK_NAME, '/V', '/FO', 'LIST'];
}

/** argv → one C-runtime command line (what `schtasks.exe` itself parses). */
export function windowsArgs(args: readonly string[]): string {
  return args.map(windowsQuoteArg).join(' ');
}

/** `<Command>` + `<Arguments>` of `schtasks /Query /XML` output (language-independent). */
export function taskRunFromXml(xml: string): string | undefined {
  const command = /<Command>([\s\S]*?)<\/Command>/.exec(xml)?.[1];
  if (command === undefined) return undefined;
  const args = /<Arguments>([\s\S]*?)<\/Arguments>/.exec(xml)?.[1];
  const program = unescapeXml(command);
  // Task Scheduler stores the program without quotes; show it as /TR would have it.
  const quoted = /[ \t]/.test(program) && !program.startsWith('"') ? `"${program}"` : program;
  return args === undefined ? quoted : `${quoted} ${unescapeXml(args)}`;
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_, code: string) => String.fromCodePoint(parseInt(code, 16)))
    .replace(/&amp;/g, '&');
}

/** A `Label: value` line of `schtasks /Query /V /FO LIST` (English labels only; best effort). */
export function schtasksListField(output: string, label: string): string | undefined {
  for (const line of output.replace(/\r\n/g, '\n').split('\n')) {
    const index = line.indexOf(':');
    if (index > 0 && line.slice(0, index).trim().toLowerCase() === label.toLowerCase()) {
      return line.slice(index + 1).trim();
    }
  }
  return undefined;
}
