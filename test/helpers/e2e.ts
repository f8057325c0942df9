/** A Pebble and a fresh config dir for end-to-end CLI tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPebble, type PebbleHandle, type PebbleOptions } from './pebble.js';
import { runCli, type CliResult, type CliRunOptions } from './cli.js';

export interface E2eCa {
  pebble: PebbleHandle;
  /** `--server URL --ca-bundle FILE` for this Pebble. */
  serverArgs: string[];
  newConfigDir(): Promise<string>;
  /** Runs acmecli with --config-dir and the server args first. */
  run(configDir: string, args: readonly string[], options?: CliRunOptions): Promise<CliResult>;
  stop(): Promise<void>;
}

export async function startE2eCa(options: PebbleOptions = {}): Promise<E2eCa> {
  const pebble = await startPebble(options);
  const dirs: string[] = [];
  const serverArgs = ['--server', pebble.directoryUrl, '--ca-bundle', pebble.caBundlePath];
  return {
    pebble,
    serverArgs,
    async newConfigDir() {
      const dir = await mkdtemp(join(tmpdir(), 'acmecli-e2e-'));
      dirs.push(dir);
      return dir;
    },
    run(configDir, args, runOptions) {
      return runCli(['--config-dir', configDir, ...serverArgs, ...args], runOptions);
    },
    async stop() {
      await pebble.stop();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/** A readable failure message: the command's output when an exit code is not the expected one. */
export function describeRun(result: CliResult): string {
  return `exit ${result.exitCode}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}
