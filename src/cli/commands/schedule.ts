import type { Command } from 'commander';
import { installSchedule, removeSchedule, showSchedule, type ScheduleEnvironment, type ScheduleStatus } from '../../operations/schedule.js';
import { defineAction, type CliState } from '../action.js';
import type { CliRuntime } from '../runtime.js';
import type { GlobalOptions } from '../global.js';

function scheduleEnvironment(runtime: CliRuntime): ScheduleEnvironment {
  return {
    platform: runtime.platform,
    uid: runtime.uid,
    env: runtime.env,
    execPath: runtime.execPath,
    scriptPath: runtime.scriptPath,
    isSea: runtime.isSea,
    rootDir: '/',
    runCommand: runtime.runCommand,
  };
}

/** The global settings the scheduled `renew` must repeat so it finds the same certificates. */
function renewArgs(options: GlobalOptions): string[] {
  const args: string[] = [];
  if (options.configDir) args.push('--config-dir', options.configDir);
  if (options.config) args.push('--config', options.config);
  if (options.logFile) args.push('--log-file', options.logFile);
  return args;
}

function renderStatus(status: ScheduleStatus): string {
  if (!status.installed) return `No acmecli renewal schedule is installed (${status.kind}).\n`;
  const lines = [`Renewal schedule (${status.kind}) runs: ${status.command}`];
  for (const file of status.files) lines.push(`  ${file}`);
  if (status.nextRun) lines.push(`  next run: ${status.nextRun}`);
  return `${lines.join('\n')}\n`;
}

export function registerScheduleCommand(program: Command, runtime: CliRuntime, state: CliState): void {
  const schedule = program
    .command('schedule')
    .description('run `acmecli renew` twice a day: a systemd timer, a cron entry, or a Windows Scheduled Task');
  schedule
    .command('install')
    .description('install the renewal job')
    .addHelpText('after', '\nExamples:\n  sudo acmecli schedule install\n  acmecli --config-dir /srv/acme schedule install\n')
    .action(
      defineAction(runtime, state, async (_context, options) => ({
        value: await installSchedule(scheduleEnvironment(runtime), { renewArgs: renewArgs(options as GlobalOptions) }),
        render: renderStatus,
      })),
    );
  schedule
    .command('remove')
    .description('remove the renewal job')
    .addHelpText('after', '\nExample:\n  sudo acmecli schedule remove\n')
    .action(
      defineAction(runtime, state, async () => ({
        value: await removeSchedule(scheduleEnvironment(runtime)),
        render: (r: { removed: boolean; kind: string; files: string[] }) =>
          r.removed ? `Removed the ${r.kind} renewal job (${r.files.join(', ')}).\n` : `No ${r.kind} renewal job was installed.\n`,
      })),
    );
  schedule
    .command('show')
    .description('show whether and how the renewal job is installed')
    .addHelpText('after', '\nExample:\n  acmecli schedule show --json\n')
    .action(defineAction(runtime, state, async () => ({ value: await showSchedule(scheduleEnvironment(runtime)), render: renderStatus })));
}
