/**
 * The second half of the CLI, loaded on demand (see core-loader.ts): every command's
 * implementation and the frame it runs in.
 */
import type { Command } from 'commander';
import { runInFrame, type ActionFrame } from './action.js';
import type { CommandName } from './lazy-action.js';
import type { CliRuntime, CliState } from './runtime.js';
import { registerAction } from './actions/register.js';
import { issueAction } from './actions/issue.js';
import { renewAction } from './actions/renew.js';
import { revokeAction } from './actions/revoke.js';
import { certificatesAction } from './actions/certificates.js';
import {
  accountDeactivateAction,
  accountListAction,
  accountRolloverAction,
  accountShowAction,
  accountUpdateAction,
} from './actions/account.js';
import { scheduleInstallAction, scheduleRemoveAction, scheduleShowAction } from './actions/schedule.js';

export { runCommand } from '../hooks/run-command.js';

/** Each command hands its action to the frame, so the action keeps its own input and result types. */
export const COMMAND_ACTIONS: Readonly<Record<CommandName, (frame: ActionFrame) => Promise<void>>> = {
  register: (frame) => frame(registerAction),
  issue: (frame) => frame(issueAction),
  renew: (frame) => frame(renewAction),
  revoke: (frame) => frame(revokeAction),
  certificates: (frame) => frame(certificatesAction),
  'account show': (frame) => frame(accountShowAction),
  'account list': (frame) => frame(accountListAction),
  'account update': (frame) => frame(accountUpdateAction),
  'account deactivate': (frame) => frame(accountDeactivateAction),
  'account rollover': (frame) => frame(accountRolloverAction),
  'schedule install': (frame) => frame(scheduleInstallAction),
  'schedule remove': (frame) => frame(scheduleRemoveAction),
  'schedule show': (frame) => frame(scheduleShowAction),
};

export async function runAction(
  name: CommandName,
  runtime: CliRuntime,
  state: CliState,
  command: Command,
): Promise<void> {
  await COMMAND_ACTIONS[name]((action) => runInFrame(runtime, state, command, action));
}
