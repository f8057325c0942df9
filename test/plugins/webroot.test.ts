import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Http01Task, Solver } from '../../src/acme/solver.js';
import { DEFAULT_DNS01_SETTINGS } from '../../src/challenges/dns01/settings.js';
import type { PluginContext } from '../../src/challenges/plugin.js';
import { PluginError, UsageError } from '../../src/errors.js';
import { silentLogger } from '../../src/output/logger.js';
import { webrootPlugin } from '../../plugins/webroot/index.js';

const context: PluginContext = {
  log: silentLogger,
  runCommand: () => Promise.reject(new Error('the webroot plugin runs no commands')),
  dns01: DEFAULT_DNS01_SETTINGS,
};
const signal = new AbortController().signal;
const isPosix = process.platform !== 'win32';

function httpTask(value: string, token: string, index = 0, total = 1): Http01Task {
  return {
    type: 'http-01',
    identifier: { type: 'dns', value },
    wildcard: false,
    token,
    path: `/.well-known/acme-challenge/${token}`,
    keyAuthorization: `${token}.thumbprint-${value}`,
    batch: { index, total, identifiers: [value] },
  };
}

function solverFor(raw: Record<string, unknown>): Solver {
  return webrootPlugin.createSolver(webrootPlugin.parseOptions(raw), context);
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'acmecli-webroot-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('webroot options', () => {
  it('resolves relative directories and keeps the map keys lower case', () => {
    const options = webrootPlugin.parseOptions({ webrootMap: { 'Example.COM': 'public' }, webrootPath: ['a', 'b'] });
    expect(options.webrootMap).toEqual({ 'example.com': path.resolve('public') });
    // certbot: the last -w is the directory for names not in the map.
    expect(options.webrootPath).toBe(path.resolve('b'));
    expect(webrootPlugin.parseOptions(webrootPlugin.toSettings(options))).toEqual(options);
  });

  it('can solve only the names that have a document root, never wildcards', () => {
    const mapped = webrootPlugin.parseOptions({ webrootMap: { 'a.example': root } });
    expect(webrootPlugin.canSolve?.(mapped, 'a.example', false)).toBe(true);
    expect(webrootPlugin.canSolve?.(mapped, 'A.Example', false)).toBe(true);
    expect(webrootPlugin.canSolve?.(mapped, 'b.example', false)).toBe(false);
    expect(webrootPlugin.canSolve?.(mapped, 'a.example', true)).toBe(false);
    const everywhere = webrootPlugin.parseOptions({ webrootPath: root });
    expect(webrootPlugin.canSolve?.(everywhere, 'b.example', false)).toBe(true);
  });

  it('accepts --webroot-map as JSON', () => {
    const options = webrootPlugin.parseOptions({ webrootMap: JSON.stringify({ 'a.example': root }) });
    expect(options.webrootMap).toEqual({ 'a.example': root });
  });

  it('names the flag when no directory is given or one is malformed', () => {
    expect(() => webrootPlugin.parseOptions({})).toThrow(UsageError);
    expect(() => webrootPlugin.parseOptions({})).toThrow(/--webroot-path \(-w\)/);
    expect(() => webrootPlugin.parseOptions({ webrootPath: '' })).toThrow(/--webroot-path/);
    expect(() => webrootPlugin.parseOptions({ webrootMap: { 'a.example': 42 } })).toThrow(/-w/);
    expect(() => webrootPlugin.parseOptions({ webrootMap: '{not json' })).toThrow(/--webroot-map/);
  });
});

describe('webroot solver', () => {
  it('prepare fails naming a webroot that is missing or not a directory', async () => {
    const missing = path.join(root, 'missing');
    await expect(
      solverFor({ webrootPath: missing }).prepare!(
        { identifiers: [{ type: 'dns', value: 'a.example' }], types: ['http-01'] },
        signal,
      ),
    ).rejects.toSatisfy(
      (error) => error instanceof PluginError && error.message === `webroot ${missing} does not exist`,
    );

    const file = path.join(root, 'file');
    await writeFile(file, 'x');
    await expect(
      solverFor({ webrootPath: file }).prepare!(
        { identifiers: [{ type: 'dns', value: 'a.example' }], types: ['http-01'] },
        signal,
      ),
    ).rejects.toThrow(`webroot ${file} is not a directory`);
  });

  it('prepare fails for a name no -w covers', async () => {
    const solver = solverFor({ webrootMap: { 'a.example': root } });
    await expect(
      solver.prepare!({ identifiers: [{ type: 'dns', value: 'b.example' }], types: ['http-01'] }, signal),
    ).rejects.toThrow(/no webroot for b\.example/);
  });

  it('writes the key authorization world-readable and removes exactly what it created', async () => {
    const siteA = path.join(root, 'a');
    const siteB = path.join(root, 'b');
    await mkdir(siteA);
    await mkdir(path.join(siteB, '.well-known'), { recursive: true });
    await writeFile(path.join(siteB, '.well-known', 'security.txt'), 'keep me');

    const solver = solverFor({ webrootMap: { 'a.example': siteA, 'b.example': siteB } });
    await solver.prepare!(
      {
        identifiers: [
          { type: 'dns', value: 'a.example' },
          { type: 'dns', value: 'b.example' },
        ],
        types: ['http-01'],
      },
      signal,
    );
    const tasks = [
      httpTask('a.example', 'tokenA_1-x', 0, 3),
      httpTask('a.example', 'tokenA_2', 1, 3),
      httpTask('b.example', 'tokenB', 2, 3),
    ];
    for (const task of tasks) await solver.present(task, signal);

    const fileA = path.join(siteA, '.well-known', 'acme-challenge', 'tokenA_1-x');
    expect(await readFile(fileA, 'utf8')).toBe('tokenA_1-x.thumbprint-a.example');
    expect(await readFile(path.join(siteB, '.well-known', 'acme-challenge', 'tokenB'), 'utf8')).toBe(
      'tokenB.thumbprint-b.example',
    );
    if (isPosix) {
      expect((await stat(fileA)).mode & 0o777).toBe(0o644);
      expect((await stat(path.join(siteA, '.well-known'))).mode & 0o777).toBe(0o755);
      expect((await stat(path.join(siteA, '.well-known', 'acme-challenge'))).mode & 0o777).toBe(0o755);
    }

    // The first clean-up leaves the shared directory alone while another task's file is in it.
    await solver.cleanUp(tasks[0]!, signal);
    expect(await readdir(path.join(siteA, '.well-known', 'acme-challenge'))).toEqual(['tokenA_2']);
    await solver.cleanUp(tasks[1]!, signal);
    await solver.cleanUp(tasks[2]!, signal);

    // a: everything was ours and is gone. b: .well-known pre-existed and stays, with its file.
    expect(await readdir(siteA)).toEqual([]);
    expect(await readdir(siteB)).toEqual(['.well-known']);
    expect(await readdir(path.join(siteB, '.well-known'))).toEqual(['security.txt']);
  });

  it('leaves a pre-existing acme-challenge directory and its other files in place', async () => {
    const challengeDir = path.join(root, '.well-known', 'acme-challenge');
    await mkdir(challengeDir, { recursive: true });
    await writeFile(path.join(challengeDir, 'other-token'), 'someone else');
    const solver = solverFor({ webrootPath: root });
    const task = httpTask('a.example', 'mine');
    await solver.present(task, signal);
    await solver.cleanUp(task, signal);
    expect(await readdir(challengeDir)).toEqual(['other-token']);
  });

  it('keeps a directory it created when something else appeared in it', async () => {
    const solver = solverFor({ webrootPath: root });
    const task = httpTask('a.example', 'mine');
    await solver.present(task, signal);
    await writeFile(path.join(root, '.well-known', 'acme-challenge', 'web-server-file'), 'x');
    await solver.cleanUp(task, signal);
    expect(await readdir(path.join(root, '.well-known', 'acme-challenge'))).toEqual(['web-server-file']);
  });

  it('refuses tokens that are not base64url, writing nothing', async () => {
    const solver = solverFor({ webrootPath: path.join(root, 'site') });
    await mkdir(path.join(root, 'site'));
    for (const token of ['../../../evil', '..', 'a/b', 'a\\b', '', 'tok en', '%2e%2e']) {
      const task = httpTask('a.example', token);
      await expect(solver.present(task, signal)).rejects.toThrow(PluginError);
      await solver.cleanUp(task, signal);
    }
    expect(await readdir(root)).toEqual(['site']);
    expect(await readdir(path.join(root, 'site'))).toEqual([]);
  });

  it.runIf(isPosix)('replaces a planted symlink instead of writing through it', async () => {
    const target = path.join(root, 'outside.txt');
    await writeFile(target, 'original');
    const challengeDir = path.join(root, 'site', '.well-known', 'acme-challenge');
    await mkdir(challengeDir, { recursive: true });
    await symlink(target, path.join(challengeDir, 'tok'));
    const solver = solverFor({ webrootPath: path.join(root, 'site') });
    const task = httpTask('a.example', 'tok');
    await solver.present(task, signal);
    expect(await readFile(target, 'utf8')).toBe('original');
    expect(await readFile(path.join(challengeDir, 'tok'), 'utf8')).toBe('tok.thumbprint-a.example');
    await solver.cleanUp(task, signal);
    expect(await readFile(target, 'utf8')).toBe('original');
  });

  it.runIf(isPosix)(
    'refuses a symlinked acme-challenge in prepare and present, naming the link and the -w that works',
    async () => {
      const site = path.join(root, 'site');
      const served = path.join(root, 'srv-acme');
      await mkdir(path.join(site, '.well-known'), { recursive: true });
      await mkdir(path.join(served, '.well-known', 'acme-challenge'), { recursive: true });
      const link = path.join(site, '.well-known', 'acme-challenge');
      await symlink(path.join(served, '.well-known', 'acme-challenge'), link);
      const solver = solverFor({ webrootPath: site });
      const refused = (error: unknown) =>
        error instanceof PluginError &&
        error.message ===
          `${link} is a symlink to ${path.join(served, '.well-known', 'acme-challenge')}: acmecli does not follow symlinks below the webroot` &&
        error.hint === `give that directory's webroot instead: -w ${served}`;
      await expect(
        solver.prepare!({ identifiers: [{ type: 'dns', value: 'a.example' }], types: ['http-01'] }, signal),
      ).rejects.toSatisfy(refused);
      const task = httpTask('a.example', 'tok');
      await expect(solver.present(task, signal)).rejects.toSatisfy(refused);
      await solver.cleanUp(task, signal);
      expect(await readdir(path.join(served, '.well-known', 'acme-challenge'))).toEqual([]);
      expect(await readdir(path.join(site, '.well-known'))).toEqual(['acme-challenge']);
    },
  );

  it('refuses challenge types other than http-01', async () => {
    const solver = solverFor({ webrootPath: root });
    const task = {
      type: 'dns-01',
      identifier: { type: 'dns', value: 'a.example' },
      wildcard: false,
      token: 't',
      keyAuthorization: 't.x',
      recordName: '_acme-challenge.a.example',
      txtValue: 'v',
      batch: { index: 0, total: 1, identifiers: ['a.example'] },
    } as const;
    await expect(solver.present(task, signal)).rejects.toThrow(/http-01 only/);
  });
});
