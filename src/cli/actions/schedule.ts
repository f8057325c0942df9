import {
  installSchedule,
  removeSchedule,
  scheduleEnvironment,
  showSchedule,
  type RemoveScheduleResult,
  type ScheduleStatus,
} from '../../operations/schedule.js';
import type { CommandAction, CommandLine } from '../action.js';
import { noInput, stringOption } from '../input.js';

export interface ScheduleInstallInput {
  /** The global settings the scheduled `renew` must repeat so it finds the same certificates. */
  renewArgs: string[];
}

function parseRenewArgs(line: CommandLine): string[] {
  const args: string[] = [];
  for (const flag of ['--config-dir', '--config', '--log-file']) {
    const value = stringOption(line, flag);
    if (value) args.push(flag, value);
  }
  return args;
}

function renderStatus(status: ScheduleStatus): string[] {
  if (!status.installed) return [`No acmecli renewal schedule is installed (${status.kind}).`];
  const lines = [`Renewal schedule (${status.kind}) runs: ${status.command}`];
  for (const file of status.files) lines.push(`  ${file}`);
  if (status.nextRun) lines.push(`  next run: ${status.nextRun}`);
  return lines;
}

export const scheduleInstallAction: CommandAction<ScheduleInstallInput, ScheduleStatus> = {
  parse: (line) => ({ renewArgs: parseRenewArgs(line) }),
  async run(_context, input, runtime) {
    return { value: await installSchedule(scheduleEnvironment(runtime), input), render: renderStatus };
  },
};

export const scheduleRemoveAction: CommandAction<undefined, RemoveScheduleResult> = {
  parse: noInput,
  async run(_context, _input, runtime) {
    return {
      value: await removeSchedule(scheduleEnvironment(runtime)),
      render: (r) =>
        r.removed
          ? `Removed the ${r.kind} renewal job (${r.files.join(', ')}).`
          : `No ${r.kind} renewal job was installed.`,
    };
  },
};

export const scheduleShowAction: CommandAction<undefined, ScheduleStatus> = {
  parse: noInput,
  async run(_context, _input, runtime) {
    return { value: await showSchedule(scheduleEnvironment(runtime)), render: renderStatus };
  },
};
