import {
  installSchedule,
  removeSchedule,
  scheduleEnvironment,
  showSchedule,
  type ScheduleStatus,
} from '../../operations/schedule.js';
import type { ActionImplementation } from '../action.js';
import type { GlobalOptions } from '../global.js';

/** The global settings the scheduled `renew` must repeat so it finds the same certificates. */
function renewArgs(options: GlobalOptions): string[] {
  const args: string[] = [];
  if (options.configDir) args.push('--config-dir', options.configDir);
  if (options.config) args.push('--config', options.config);
  if (options.logFile) args.push('--log-file', options.logFile);
  return args;
}

function renderStatus(status: ScheduleStatus): string[] {
  if (!status.installed) return [`No acmecli renewal schedule is installed (${status.kind}).`];
  const lines = [`Renewal schedule (${status.kind}) runs: ${status.command}`];
  for (const file of status.files) lines.push(`  ${file}`);
  if (status.nextRun) lines.push(`  next run: ${status.nextRun}`);
  return lines;
}

export const scheduleInstallAction: ActionImplementation = async (_context, options, _command, runtime) => ({
  value: await installSchedule(scheduleEnvironment(runtime), { renewArgs: renewArgs(options) }),
  render: renderStatus,
});

export const scheduleRemoveAction: ActionImplementation = async (_context, _options, _command, runtime) => ({
  value: await removeSchedule(scheduleEnvironment(runtime)),
  render: (r: { removed: boolean; kind: string; files: string[] }) =>
    r.removed
      ? `Removed the ${r.kind} renewal job (${r.files.join(', ')}).`
      : `No ${r.kind} renewal job was installed.`,
});

export const scheduleShowAction: ActionImplementation = async (_context, _options, _command, runtime) => ({
  value: await showSchedule(scheduleEnvironment(runtime)),
  render: renderStatus,
});
