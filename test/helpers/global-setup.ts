/** Builds the CLI bundle once per test run, so end-to-end tests run what users run. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

export default function setup(): void {
  if (process.env.ACMECLI_BIN) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'inherit' });
}
