/**
 * The second half of the CLI, loaded on demand (see core-loader.ts): every command's
 * implementation and the frame it runs in.
 */
import type { Command } from 'commander';
import { runInFrame, type ActionImplementation } from './action.js';
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

const ACTIONS: Readonly<Record<string, ActionImplementation>> = {
  register: registerAction,
  issue: issueAction,
  renew: renewAction,
  revoke: revokeAction,
  certificates: certificatesAction,
  'account show': accountShowAction,
  'account list': accountListAction,
  'account update': accountUpdateAction,
  'account deactivate': accountDeactivateAction,
  'account rollover': accountRolloverAction,
  'schedule install': scheduleInstallAction,
  'schedule remove': scheduleRemoveAction,
  'schedule show': scheduleShowAction,
};

export async function runAction(name: string, runtime: CliRuntime, state: CliState, command: Command): Promise<void> {
  const implementation = ACTIONS[name];
  if (!implementation) throw new Error(`internal error: no implementation for command "${name}"`);
  await runInFrame(runtime, state, command, implementation);
}
