/**
 * The entry point, and the only module that touches the process: argv, environment, signals,
 * exit code.
 */
import { homedir } from 'node:os';
import { loadCore } from './core-loader.js';
import { escapeLine, stackLines } from '../output/escape.js';
import { VERSION } from './version.js';
import { ExitCode } from './exit-codes.js';

function isSingleExecutable(): boolean {
  try {
    // node:sea exists only in Node >= 20.12; in a SEA, isSea() is true.

    const sea = process.getBuiltinModule?.('node:sea') as { isSea?: () => boolean } | undefined;
    return sea?.isSea?.() === true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  // A reader that goes away (`acmecli --help | head`) is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  const args = process.argv.slice(2);
  // The version alone needs no command tree: answered before commander is even built.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const sea = isSingleExecutable();
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (name: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    process.stderr.write(`\nacmecli: ${name} received, cleaning up (again to quit at once)\n`);
    controller.abort(new Error(name));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const { runCli } = await import('./program.js');
  const code = await runCli({
    // In a single executable argv[1] repeats the binary's path (Node's SEA contract): the user's
    // arguments start at argv[2] either way.
    argv: process.argv.slice(2),
    env: process.env,
    platform: process.platform,
    uid: process.getuid?.(),
    homedir: homedir(),
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    interrupt: () => onSignal('SIGINT'),
    // execa lives in the lazily loaded core, with the commands that run hooks and reload commands.
    runCommand: async (request) => (await loadCore()).runCommand(request),
    now: () => new Date(),
    execPath: process.execPath,
    scriptPath: sea ? undefined : process.argv[1],
    isSea: sea,
    version: VERSION,
  });
  // An interrupted run exits 130 whatever error the interrupt surfaced as: a hook in the terminal's
  // process group gets the same Ctrl-C and may report its own failure before the abort is seen.
  process.exitCode = controller.signal.aborted ? ExitCode.interrupted : code;
}

main().catch((error: unknown) => {
  // Outside the reporter, but the message may still quote the CA: escaped the same way, per line.
  const lines = error instanceof Error ? stackLines(error) : [String(error)];
  process.stderr.write(`acmecli: unexpected error: ${lines.map(escapeLine).join('\n')}\n`);
  process.exitCode = 1;
});
