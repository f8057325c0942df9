/**
 * The linux-x64 single binary on its own: no node on the children's PATH, the core read from the
 * SEA asset (the binary works from a folder with nothing beside it), argv handled as with node.
 * Runs from scripts/test-binary.mjs (part of `npm test`), which sets ACMECLI_BIN and
 * ACMECLI_CHILD_PATH; skipped in the plain `vitest run`. test/e2e runs against the binary in the
 * same invocation.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { describeRun } from '../helpers/e2e.js';

const BIN = process.env.ACMECLI_BIN;
const CHILD_PATH = process.env.ACMECLI_CHILD_PATH;

describe('the single binary (ACMECLI_BIN)', () => {
  if (BIN === undefined || BIN === '')
    throw new Error('this suite needs its binary: run it through npm test (scripts/test-binary.mjs sets ACMECLI_BIN)');
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'acmecli-binary-'));
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('runs with a PATH where `command -v node` fails', async () => {
    expect(CHILD_PATH, 'scripts/test-binary.mjs sets ACMECLI_CHILD_PATH').toBeTruthy();
    const probe = spawnSync('/bin/sh', ['-c', 'command -v node; command -v nodejs; command -v npx'], {
      env: { PATH: CHILD_PATH },
      encoding: 'utf8',
    });
    expect(probe.status).not.toBe(0);
    expect(probe.stdout).toBe('');
    // ...while the tools the e2e hooks use are there.
    const tools = spawnSync('/bin/sh', ['-c', 'command -v sh cat echo mkdir rm openssl nsupdate'], {
      env: { PATH: CHILD_PATH },
      encoding: 'utf8',
    });
    expect(tools.status, tools.stdout + tools.stderr).toBe(0);
    const result = await runCli(['--version']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('is a Node single executable with the SEA fuse set, not a script', async () => {
    const head = (await readFile(BIN)).subarray(0, 4);
    expect(head.toString('latin1')).toBe('\x7fELF');
    const fuse = spawnSync('grep', ['-c', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1', BIN], {
      encoding: 'utf8',
    });
    expect(fuse.stdout.trim()).not.toBe('0');
  });

  it('loads the command core from its own asset: a copy alone in an empty folder runs a command', async () => {
    const copy = join(scratch, 'acmecli');
    await copyFile(BIN, copy);
    spawnSync('chmod', ['755', copy]);
    const configDir = join(scratch, 'config');
    const result = spawnSync(copy, ['--config-dir', configDir, '--json', 'certificates'], {
      cwd: scratch,
      env: { PATH: CHILD_PATH, HOME: scratch, LANG: 'C.UTF-8' },
      encoding: 'utf8',
    });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true });
  });

  it('takes subcommands and options like the node bundle (argv[1] is the binary itself in a SEA)', async () => {
    const help = await runCli(['issue', '--help']);
    expect(help.exitCode, describeRun(help)).toBe(0);
    expect(help.stdout).toMatch(/--standalone/);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
