/**
 * webroot: http-01 through a web server that is already running. The plugin writes
 * `<webroot>/.well-known/acme-challenge/<token>` and the web server serves it.
 *
 * Options mirror certbot: `-w DIR -d a -d b -w DIR2 -d c` groups become `webrootMap`
 * (identifier value → directory; the CLI builds it), and the last `-w` is the directory for every
 * identifier the map does not name (certbot's "unmatched domains" rule).
 */
import { chmod, lstat, mkdir, rmdir, stat, unlink, writeFile } from '../../src/store/fs.js';
import path from 'node:path';
import type { ChallengeTask, Http01Task, SolvePlan, Solver } from '../../src/acme/solver.js';
import { definePlugin, type JsonObject, type PluginContext } from '../../src/challenges/plugin.js';
import { PluginError, UsageError, messageOf, throwIfAborted } from '../../src/errors.js';
import { webrootSpec } from './spec.js';

export interface WebrootOptions {
  /** Identifier value (lower case) → absolute webroot directory. */
  webrootMap: Record<string, string>;
  /** Absolute webroot for identifiers the map does not name. */
  webrootPath?: string;
}

const WELL_KNOWN = '.well-known';
const ACME_CHALLENGE = 'acme-challenge';
/** RFC 8555 8.3: tokens are base64url; anything else could name a path outside the webroot. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;
// The web server usually runs as another user than acmecli, so what we create must be readable by
// everyone; explicit chmod because the process umask (often 077 for root) would mask the mode.
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

export const webrootPlugin = definePlugin<WebrootOptions>({
  ...webrootSpec,
  parseOptions: parseWebrootOptions,
  // Names without a document root are left to another selected plugin (or fail selection).
  canSolve: (options, identifierValue, wildcard) => !wildcard && webrootFor(options, identifierValue) !== undefined,
  createSolver: (options, context) => createWebrootSolver(options, context),
  toSettings(options): JsonObject {
    const settings: JsonObject = { webrootMap: { ...options.webrootMap } };
    if (options.webrootPath !== undefined) settings['webrootPath'] = options.webrootPath;
    return settings;
  },
});

export function parseWebrootOptions(raw: Readonly<Record<string, unknown>>): WebrootOptions {
  const webrootMap: Record<string, string> = {};
  for (const [name, dir] of Object.entries(readMap(raw['webrootMap']))) {
    if (typeof dir !== 'string') {
      throw new UsageError(`--webroot-path (-w) for ${name} must be a directory path`);
    }
    webrootMap[name.toLowerCase()] = resolveDir(dir, name);
  }

  let webrootPath: string | undefined;
  const rawPath = raw['webrootPath'];
  if (rawPath !== undefined && rawPath !== null) {
    const list = Array.isArray(rawPath) ? rawPath : [rawPath];
    for (const dir of list) {
      if (typeof dir !== 'string') throw new UsageError('--webroot-path (-w) must be a directory path');
    }
    // certbot: unmatched names use the last -w given.
    const last = list.at(-1) as string | undefined;
    if (last !== undefined) webrootPath = resolveDir(last);
  }

  if (webrootPath === undefined && Object.keys(webrootMap).length === 0) {
    throw new UsageError('--webroot needs a document root: give --webroot-path (-w) DIR before the -d names');
  }
  return webrootPath === undefined ? { webrootMap } : { webrootMap, webrootPath };
}

function readMap(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new UsageError(`--webroot-map is not valid JSON: ${messageOf(error)}`);
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError('--webroot-map must be a JSON object of name → directory');
  }
  return parsed as Record<string, unknown>;
}

function resolveDir(dir: string, name?: string): string {
  const forName = name === undefined ? '' : ` for ${name}`;
  if (dir.trim() === '' || dir.includes('\0')) {
    throw new UsageError(`--webroot-path (-w)${forName} must be a directory path, got ${JSON.stringify(dir)}`);
  }
  // Relative paths mean "relative to where the command was run" (certbot does the same); stored
  // settings must not depend on the directory `renew` happens to run from, hence absolute here.
  const resolved = path.resolve(dir);
  if (!path.isAbsolute(resolved)) {
    throw new UsageError(`--webroot-path (-w)${forName} must be an absolute directory: ${dir}`);
  }
  return resolved;
}

/** The webroot serving `identifierValue`, or undefined when neither the map nor -w covers it. */
export function webrootFor(options: WebrootOptions, identifierValue: string): string | undefined {
  return options.webrootMap[identifierValue.toLowerCase()] ?? options.webrootPath;
}

export function createWebrootSolver(options: WebrootOptions, context: PluginContext): Solver {
  const { log } = context;
  /** Directories this solver created, so clean-up never removes one the site already had. */
  const createdDirs = new Set<string>();
  /** Challenge files this solver wrote (absolute paths). */
  const writtenFiles = new Set<string>();

  function locate(task: Http01Task): { webroot: string; dir: string; file: string } {
    const webroot = webrootFor(options, task.identifier.value);
    if (webroot === undefined) {
      throw new UsageError(`no webroot for ${task.identifier.value}: give --webroot-path (-w) DIR before -d ${task.identifier.value}`);
    }
    // Tasks arrive with a checked token; checked again because this string becomes a file name.
    if (!TOKEN_PATTERN.test(task.token)) {
      throw new PluginError(`refusing http-01 token for ${task.identifier.value}: not base64url`);
    }
    const dir = path.join(webroot, WELL_KNOWN, ACME_CHALLENGE);
    return { webroot, dir, file: path.join(dir, task.token) };
  }

  async function ensureDir(dir: string): Promise<void> {
    try {
      await mkdir(dir, { mode: DIR_MODE });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        const info = await stat(dir);
        if (!info.isDirectory()) throw new PluginError(`${dir} exists and is not a directory`);
        return;
      }
      throw new PluginError(`cannot create ${dir}: ${messageOf(error)}`, { cause: error });
    }
    createdDirs.add(dir);
    await chmod(dir, DIR_MODE);
  }

  /** Removes the directories this solver created under `webroot`, deepest first, when empty. */
  async function removeCreatedDirs(webroot: string): Promise<void> {
    const candidates = [path.join(webroot, WELL_KNOWN, ACME_CHALLENGE), path.join(webroot, WELL_KNOWN)];
    for (const dir of candidates) {
      if (!createdDirs.has(dir)) continue;
      try {
        await rmdir(dir);
        createdDirs.delete(dir);
        log.debug(`webroot: removed ${dir}`);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          createdDirs.delete(dir);
          continue;
        }
        // Still holds another task's file (it cleans up later) or something the site put there.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return;
        throw new PluginError(`cannot remove ${dir}: ${messageOf(error)}`, { cause: error });
      }
    }
  }

  return {
    name: 'webroot',

    async prepare(plan: SolvePlan, signal: AbortSignal): Promise<void> {
      const webroots = new Set<string>();
      for (const identifier of plan.identifiers) {
        const webroot = webrootFor(options, identifier.value);
        if (webroot === undefined) {
          throw new UsageError(`no webroot for ${identifier.value}: give --webroot-path (-w) DIR before -d ${identifier.value}`);
        }
        webroots.add(webroot);
      }
      for (const webroot of webroots) {
        throwIfAborted(signal);
        let isDirectory: boolean;
        try {
          isDirectory = (await stat(webroot)).isDirectory();
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${messageOf(error)})`;
          throw new PluginError(`webroot ${webroot} ${why}`, {
            cause: error,
            hint: 'give the document root of the running web server with --webroot-path (-w)',
          });
        }
        if (!isDirectory) throw new PluginError(`webroot ${webroot} is not a directory`);
      }
    },

    async present(task: ChallengeTask, signal: AbortSignal): Promise<void> {
      if (task.type !== 'http-01') {
        throw new PluginError(`the webroot plugin solves http-01 only, not ${task.type}`);
      }
      const { webroot, dir, file } = locate(task);
      throwIfAborted(signal);
      await ensureDir(path.join(webroot, WELL_KNOWN));
      await ensureDir(dir);
      await writeChallengeFile(file, task.keyAuthorization);
      writtenFiles.add(file);
      log.debug(`webroot: wrote ${file}`);
    },

    async cleanUp(task: ChallengeTask): Promise<void> {
      if (task.type !== 'http-01') return;
      let located: { webroot: string; file: string };
      try {
        located = locate(task);
      } catch {
        return; // present refused this task, so nothing was written
      }
      const { webroot, file } = located;
      if (writtenFiles.has(file)) {
        try {
          await unlink(file);
          log.debug(`webroot: removed ${file}`);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw new PluginError(`cannot remove ${file}: ${messageOf(error)}`, { cause: error });
          }
        }
        writtenFiles.delete(file);
      }
      await removeCreatedDirs(webroot);
    },
  };
}

async function writeChallengeFile(file: string, content: string): Promise<void> {
  try {
    // 'wx' never follows a link someone planted at the token's name.
    await writeFile(file, content, { mode: FILE_MODE, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new PluginError(`cannot write ${file}: ${messageOf(error)}`, { cause: error });
    }
    // A CA reuses a pending authorization (same token) after an interrupted run: replace the
    // leftover, but only a plain file; unlinking a symlink removes the link, not its target.
    const info = await lstat(file);
    if (info.isDirectory()) throw new PluginError(`${file} exists and is a directory`);
    await unlink(file);
    try {
      await writeFile(file, content, { mode: FILE_MODE, flag: 'wx' });
    } catch (retryError) {
      throw new PluginError(`cannot write ${file}: ${messageOf(retryError)}`, { cause: retryError });
    }
  }
  await chmod(file, FILE_MODE);
}
