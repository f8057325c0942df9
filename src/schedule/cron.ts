/**
 * cron back ends: the system file /etc/cron.d/acmecli (root, no systemd), or one line ending
 * `# acmecli renew` in a user's crontab, edited through `crontab -l` / `crontab FILE` so every
 * other line stays as it was.
 */
import { exists, localErrorFor, mkdtemp, removeFile, rm } from '../store/fs.js';
import { posix } from 'node:path';
import { LocalError, messageOf } from '../errors.js';
import { atomicWrite } from '../store/atomic-write.js';
import { readTrustedFile } from '../store/trust.js';
import {
  CRON_FILE_PATH,
  cronEntry,
  cronEntryCommand,
  cronFile,
  crontabWithEntry,
  crontabWithoutEntry,
  findCronEntry,
  randomCronTime,
  type JobCommand,
} from './jobs.js';
import { cronCommandLine } from './quoting.js';
import {
  QUICK_TIMEOUT_MS,
  firstLine,
  hostPath,
  run,
  userName,
  withRootHint,
  type KindRemoval,
  type ScheduleEnvironment,
  type ScheduleStatus,
} from './host.js';

function cronFilePath(env: ScheduleEnvironment): string {
  return hostPath(env, CRON_FILE_PATH);
}

export async function installCronFile(env: ScheduleEnvironment, job: JobCommand): Promise<void> {
  const time = randomCronTime(env.random ?? Math.random);
  // cron ignores files in /etc/cron.d that are group- or world-writable: 0644 exactly.
  const text = cronFile({ ...time, command: job, user: 'root' });
  await withRootHint(() => atomicWrite(cronFilePath(env), text, { mode: 0o644 }));
}

export async function removeCronFile(env: ScheduleEnvironment): Promise<KindRemoval | undefined> {
  const path = cronFilePath(env);
  if (!exists(path)) return undefined;
  await withRootHint(() => removeFile(path));
  return { files: [path], notes: [] };
}

export async function cronFileStatus(env: ScheduleEnvironment, preview: string): Promise<ScheduleStatus> {
  const path = cronFilePath(env);
  const text = readTrustedFile(path);
  const line = text === undefined ? undefined : findCronEntry(text);
  if (text === undefined) return { installed: false, kind: 'cron', files: [path], command: preview };
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
  const reason = firstLine(result.stderr, result.stdout, result.exitCode);
  if (result.exitCode === 126 || result.exitCode === 127) {
    return { available: false, reason: `crontab is not available: ${reason}` };
  }
  // cronie/vixie: "no crontab for USER"; busybox: "can't open 'USER': No such file or directory".
  if (/no crontab for|can't open|No such file/i.test(output)) return { available: true, text: '' };
  throw new LocalError(`crontab -l failed: ${reason}`);
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

export async function installCrontab(env: ScheduleEnvironment, job: JobCommand): Promise<void> {
  const current = await readCrontab(env);
  if (!current.available) {
    const command = cronCommandLine([job.executable, ...job.args]);
    throw new LocalError(current.reason, {
      hint: `install cron, or run \`${command}\` twice a day from your own scheduler`,
    });
  }
  const time = randomCronTime(env.random ?? Math.random);
  await writeCrontab(env, crontabWithEntry(current.text, cronEntry({ ...time, command: job })));
}

export async function removeCrontab(env: ScheduleEnvironment): Promise<KindRemoval | undefined> {
  const current = await readCrontab(env);
  if (!current.available) return undefined;
  const updated = crontabWithoutEntry(current.text);
  if (updated === undefined) return undefined;
  await writeCrontab(env, updated);
  return { files: [], notes: [`removed the acmecli renew line from the crontab of ${userName(env)}`] };
}

export async function crontabStatus(env: ScheduleEnvironment, preview: string): Promise<ScheduleStatus> {
  let current: CrontabRead;
  try {
    current = await readCrontab(env);
  } catch (error) {
    return { installed: false, kind: 'crontab', files: [], command: preview, details: messageOf(error) };
  }
  const line = current.available ? findCronEntry(current.text) : undefined;
  if (line === undefined) {
    return {
      installed: false,
      kind: 'crontab',
      files: [],
      command: preview,
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
