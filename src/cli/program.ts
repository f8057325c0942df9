/**
 * The command tree. buildProgram takes everything from the process through `runtime`, and the
 * action layer through `runAction`, so tests drive real argv through it without a child process
 * (test/unit/cli/argv.test.ts).
 */
import { Command, CommanderError } from 'commander';
import { addGlobalOptions } from './global-options.js';
import type { CliRuntime, CliState } from './runtime.js';
import { lazyActions, runActionFromCore, type RunAction } from './lazy-action.js';
import { registerRegisterCommand } from './commands/register.js';
import { registerIssueCommand } from './commands/issue.js';
import { registerRenewCommand } from './commands/renew.js';
import { registerRevokeCommand } from './commands/revoke.js';
import { registerAccountCommand } from './commands/account.js';
import { registerCertificatesCommand } from './commands/certificates.js';
import { registerScheduleCommand } from './commands/schedule.js';
import { EXIT_CODE_TABLE } from './exit-codes.js';
import { escapeLine } from '../output/escape.js';

/**
 * commander's help and usage errors bypass the reporter and quote argv and config-file values: the
 * same escaping, line by line, so its own layout stays and nothing else written reaches a
 * terminal raw.
 */
function commanderOutput(runtime: CliRuntime) {
  const escaped = (text: string) => text.split('\n').map(escapeLine).join('\n');
  return {
    writeOut: (text: string) => runtime.stdout.write(escaped(text)),
    writeErr: (text: string) => runtime.stderr.write(escaped(text)),
  };
}

export function buildProgram(runtime: CliRuntime, state: CliState, runAction: RunAction = runActionFromCore): Command {
  const program = new Command('acmecli');
  program
    .description('Obtain, renew and revoke TLS certificates from any ACME (RFC 8555) CA')
    .version(runtime.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput(commanderOutput(runtime))
    .exitOverride();
  addGlobalOptions(program);
  const actionFor = lazyActions(runtime, state, runAction);
  registerRegisterCommand(program, actionFor);
  registerIssueCommand(program, actionFor);
  registerRenewCommand(program, actionFor);
  registerRevokeCommand(program, actionFor);
  registerAccountCommand(program, actionFor);
  registerCertificatesCommand(program, actionFor);
  registerScheduleCommand(program, actionFor);
  program.addHelpText(
    'after',
    `\nExamples:\n  acmecli register --email admin@example.com --agree-tos\n  acmecli issue -d example.com --webroot -w /var/www/html --reload-cmd "systemctl reload nginx"\n  acmecli renew --quiet\n\nExit codes:\n${EXIT_CODE_TABLE.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`).join('\n')}\n`,
  );
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput(commanderOutput(runtime));
    for (const sub of command.commands) {
      sub.exitOverride();
      sub.configureOutput(commanderOutput(runtime));
    }
  }
  return program;
}

/** Runs argv through the program; returns the exit code (commander's usage errors become 2). */
export async function runCli(runtime: CliRuntime, runAction: RunAction = runActionFromCore): Promise<number> {
  const state: CliState = { exitCode: 0 };
  const program = buildProgram(runtime, state, runAction);
  try {
    await program.parseAsync([...runtime.argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return 0;
      return error.exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
  return state.exitCode;
}
