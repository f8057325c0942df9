/**
 * Windows back end: the Task Scheduler task "acmecli renew", created, queried and deleted with
 * schtasks.exe through runCommand (cmd.exe), as SYSTEM when the prompt is elevated.
 */
import { win32 } from 'node:path';
import { LocalError } from '../errors.js';
import {
  SCHTASKS_TASK_NAME,
  randomCronTime,
  schtasksCreateArgs,
  schtasksDeleteArgs,
  schtasksListField,
  schtasksQueryArgs,
  schtasksStartTime,
  taskRunFromXml,
  windowsArgs,
  type JobCommand,
} from './jobs.js';
import { cmdEscape } from './quoting.js';
import {
  QUICK_TIMEOUT_MS,
  SCHTASKS_TIMEOUT_MS,
  details,
  firstLine,
  run,
  type KindRemoval,
  type ScheduleEnvironment,
  type ScheduleStatus,
} from './host.js';

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
  return run(env, schtasksCommand(systemTool(env, 'schtasks.exe'), args), SCHTASKS_TIMEOUT_MS);
}

/** High (S-1-16-12288) or System (S-1-16-16384) integrity level: an elevated token. */
async function isElevated(env: ScheduleEnvironment): Promise<boolean> {
  const result = await run(env, `${systemTool(env, 'whoami.exe')} /groups`, QUICK_TIMEOUT_MS).catch(() => undefined);
  return result !== undefined && result.exitCode === 0 && /S-1-16-(12288|16384)\b/.test(result.stdout);
}

export async function installSchtasks(env: ScheduleEnvironment, job: JobCommand): Promise<void> {
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

/**
 * `schtasks /Query /XML` found the task: exit 0 and a task definition. Exit 0 alone is not enough:
 * Wine's schtasks answers every /Query with 0 and no output.
 */
function taskFound(query: { exitCode: number; stdout: string }): boolean {
  // Some Windows versions write the XML as UTF-16; read through NULs rather than fail.
  return query.exitCode === 0 && /<Task[\s>]/.test(query.stdout.replace(/\u0000/g, ''));
}

export async function removeSchtasks(env: ScheduleEnvironment): Promise<KindRemoval | undefined> {
  const query = await schtasks(env, schtasksQueryArgs('xml'));
  if (!taskFound(query)) return undefined;
  const result = await schtasks(env, schtasksDeleteArgs());
  if (result.exitCode !== 0) {
    const line = firstLine(result.stderr, result.stdout, result.exitCode);
    throw new LocalError(`schtasks /Delete failed: ${line}`, {
      ...(/denied/i.test(line) ? { hint: 'run from an elevated prompt (Run as administrator)' } : {}),
    });
  }
  return { files: [], notes: [`deleted the scheduled task "${SCHTASKS_TASK_NAME}"`] };
}

export async function schtasksStatus(env: ScheduleEnvironment, preview: string): Promise<ScheduleStatus> {
  const xml = await schtasks(env, schtasksQueryArgs('xml'));
  if (!taskFound(xml)) {
    return { installed: false, kind: 'schtasks', files: [], command: preview };
  }
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
    ...(start === undefined
      ? {}
      : { schedule: `daily at ${start}${interval === undefined ? '' : `, repeated every ${interval}`}` }),
    ...details([`task "${SCHTASKS_TASK_NAME}"`, listText.trim()]),
  };
}
