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

/**
 * `node dist/acmecli.cjs` runs without the single binaries' V8 options (scripts/build-binaries.mjs):
 * --lite-mode has to be given before the first line of JavaScript. Two parts of what it buys, V8
 * reads while running, so they are set here, before any command code is compiled: no optimizing
 * compilers (their code and compile zones stay resident for a run that lasts about a second) and a
 * young generation that does not grow. `npm run bench`, peak RSS: 1 name 63 → 62 MiB,
 * 50 names 74 → 63 MiB, with the same CPU time (issue 7).
 */
function tuneV8ForAShortRun(): void {
  const v8 = process.getBuiltinModule('node:v8');
  for (const flag of ['--no-opt', '--no-maglev', '--no-sparkplug', '--semi-space-growth-factor=1'])
    v8.setFlagsFromString(flag);
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
  if (!sea) tuneV8ForAShortRun();
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
