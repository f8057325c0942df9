/**
 * webroot: http-01 through a web server that is already running. The plugin writes
 * `<webroot>/.well-known/acme-challenge/<token>` and the web server serves it.
 *
 * Options mirror certbot: `-w DIR -d a -d b -w DIR2 -d c` groups become `webrootMap`
 * (identifier value → directory; the CLI builds it), and the last `-w` is the directory for every
 * identifier the map does not name (certbot's "unmatched domains" rule).
 */
import {
  CREATE_NEW,
  isSameFile,
  lstat,
  makeDirectoryIn,
  open,
  openDirectory,
  openDirectoryIn,
  reasonOf,
  rmdir,
  stat,
  symlinkTarget,
  unlink,
  type Directory,
  type FileIdentity,
} from '../../src/store/fs.js';
import path from 'node:path';
import { describeChangers, whoCanChangePathTo } from '../../src/store/trust.js';
import { ownerSite, primaryGroupOf, SymlinkBelowWebroot, type Owner, type OwnerSite } from './as-owner.js';
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
// everyone; set on the descriptor because the process umask (often 077 for root) would mask it.
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
  let parsed: unknown = value;
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

/**
 * The directories of one webroot, held open from the first `present` to the last `cleanUp`.
 *
 * The web user usually owns the site's content, `.well-known` included, and can rename or replace
 * anything below the webroot at any moment. So the webroot (the administrator's -w, which may be
 * a symlink they made) is opened once; `.well-known` and `acme-challenge` are opened inside it
 * without following symlinks, and every file operation is done inside those open directories.
 * Nothing is ever changed by a path the web user could redirect to root's files.
 */
interface Site {
  root: Directory;
  wellKnown: Directory;
  challenge: Directory;
  /** Which of the two this run created: clean-up removes those only. */
  createdWellKnown: boolean;
  createdChallenge: boolean;
  /** Token → the file this run wrote, to remove that file and not whatever has its name by then. */
  files: Map<string, FileIdentity>;
}

export function createWebrootSolver(options: WebrootOptions, context: PluginContext): Solver {
  const { log } = context;
  /** Open sites by webroot; the promise, so tasks presented together open a site once. */
  const sites = new Map<string, Promise<Site | OwnerSite>>();

  function locate(task: Http01Task): { webroot: string; file: string } {
    const webroot = webrootFor(options, task.identifier.value);
    if (webroot === undefined) {
      throw new UsageError(
        `no webroot for ${task.identifier.value}: give --webroot-path (-w) DIR before -d ${task.identifier.value}`,
      );
    }
    // Tasks arrive with a checked token; checked again because this string becomes a file name.
    if (!TOKEN_PATTERN.test(task.token)) {
      throw new PluginError(`refusing http-01 token for ${task.identifier.value}: not base64url`);
    }
    return { webroot, file: path.join(webroot, WELL_KNOWN, ACME_CHALLENGE, task.token) };
  }

  function siteFor(webroot: string): Promise<Site | OwnerSite> {
    let site = sites.get(webroot);
    if (site === undefined) {
      site = openSiteAs(webroot, log);
      sites.set(webroot, site);
      // A site that failed to open is tried afresh by the next task, not cached as a failure.
      site.catch(() => sites.delete(webroot));
    }
    return site;
  }

  /** Removes the directories this run created, deepest first and only when empty, and closes the site. */
  async function closeSite(site: Site | OwnerSite): Promise<void> {
    if ('owner' in site) return site.close();
    try {
      if (site.createdChallenge) await removeDirIfEmpty(site.wellKnown, ACME_CHALLENGE, site.challenge);
      if (site.createdWellKnown) await removeDirIfEmpty(site.root, WELL_KNOWN, site.wellKnown);
    } finally {
      await Promise.all([site.challenge.close(), site.wellKnown.close(), site.root.close()]);
    }
  }

  async function removeDirIfEmpty(parent: Directory, name: string, dir: Directory): Promise<void> {
    const where = path.join(parent.path, name);
    try {
      // Only the directory we hold: if the web user renamed it and put another one in its place,
      // theirs stays (rmdir cannot name a descriptor; a swap after this check removes an empty
      // directory inside one they can write, which they could remove themselves).
      const [held, named] = await Promise.all([dir.stat(), lstat(parent.at(name), { bigint: true })]);
      if (!named.isDirectory() || held.dev !== named.dev || held.ino !== named.ino) return;
      await rmdir(parent.at(name));
      log.debug(`webroot: removed ${where}`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Gone already, or it holds something the site put there.
      if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return;
      throw new PluginError(`cannot remove ${where}: ${reasonOf(error)}`, { cause: error });
    }
  }

  return {
    name: 'webroot',

    async prepare(plan: SolvePlan, signal: AbortSignal): Promise<void> {
      const webroots = new Set<string>();
      for (const identifier of plan.identifiers) {
        const webroot = webrootFor(options, identifier.value);
        if (webroot === undefined) {
          throw new UsageError(
            `no webroot for ${identifier.value}: give --webroot-path (-w) DIR before -d ${identifier.value}`,
          );
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
        // Refused before the order is placed; present decides again, as things can change meanwhile.
        const owner = await ownerToActAs(webroot);
        if (owner === undefined) await refuseLinksBelow(webroot);
      }
    },

    async present(task: ChallengeTask, signal: AbortSignal): Promise<void> {
      if (task.type !== 'http-01') {
        throw new PluginError(`the webroot plugin solves http-01 only, not ${task.type}`);
      }
      const { webroot, file } = locate(task);
      throwIfAborted(signal);
      const site = await siteFor(webroot);
      if ('owner' in site) {
        try {
          await site.write(task.token, task.keyAuthorization, file);
        } catch (error) {
          if (error instanceof SymlinkBelowWebroot) throw symlinkRefused(error.link, error.target, webroot);
          throw error;
        }
      } else {
        site.files.set(task.token, await writeChallengeFile(site.challenge, task.token, task.keyAuthorization, file));
      }
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
      const pending = sites.get(webroot);
      if (pending === undefined) return;
      let site: Site | OwnerSite;
      try {
        site = await pending;
      } catch {
        return; // the directories could not be opened: nothing was written
      }
      if ('owner' in site) {
        await site.remove(task.token, file);
        if (site.tokens.size === 0 && sites.get(webroot) === pending) {
          sites.delete(webroot);
          await site.close();
        }
        return;
      }
      const written = site.files.get(task.token);
      if (written !== undefined) {
        site.files.delete(task.token);
        try {
          // The file we wrote, not whatever the web user renamed to its name since.
          if (await isSameFile(site.challenge, task.token, written)) {
            await unlink(site.challenge.at(task.token));
            log.debug(`webroot: removed ${file}`);
          } else {
            log.debug(`webroot: ${file} was replaced by someone else: left alone`);
          }
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw new PluginError(`cannot remove ${file}: ${reasonOf(error)}`, { cause: error });
          }
        }
      }
      if (site.files.size === 0 && sites.get(webroot) === pending) {
        sites.delete(webroot);
        await closeSite(site);
      }
    },

    async dispose(): Promise<void> {
      // Normally empty: the last cleanUp of a site closes it.
      const open = [...sites.values()];
      sites.clear();
      for (const pending of open) {
        const site = await pending.catch(() => undefined);
        if (site !== undefined) await closeSite(site);
      }
    },
  };
}

/**
 * Who writes in the webroot. Only root (or the user running acmecli) can change the path to it:
 * acmecli, through the open directories below. Exactly one other user U can (U owns a directory
 * on the way, or the webroot in a sticky /tmp-like directory): U, through a child running as U
 * (as-owner.ts says why). A group or everyone can: refused, since no single identity is safe to
 * act as.
 */
async function ownerToActAs(webroot: string): Promise<Owner | undefined> {
  const changers = whoCanChangePathTo(webroot);
  const changer = describeChangers(changers);
  if (changer === undefined) return undefined;
  const replace = `so ${changers.shared !== undefined ? 'other users' : 'that user'} can replace the path to ${webroot} with a link to any directory`;
  if (changers.shared !== undefined) {
    throw new PluginError(`refusing webroot ${webroot}: ${changer.dir} ${changer.why}, ${replace}`, {
      hint: `${changer.fix}, or give a webroot whose parent directories only root and the site's owner can change`,
    });
  }
  const [first, second] = changers.users;
  if (second !== undefined) {
    throw new PluginError(
      `refusing webroot ${webroot}: both ${first?.[1]} (uid ${first?.[0]}) and ${second[1]} (uid ${second[0]}) can be changed by non-root users, so either can replace the path to it`,
      {
        hint: `${changer.fix}, or give a webroot whose parent directories only root and one user can change`,
      },
    );
  }
  const uid = first?.[0] as number;
  if ((process.geteuid?.() ?? 0) !== 0) {
    throw new PluginError(
      `refusing webroot ${webroot}: ${changer.dir} ${changer.why}, ${replace}, and only root can write as that user`,
      {
        hint: `run acmecli as root or as uid ${uid}, or ${changer.fix}`,
      },
    );
  }
  return { uid, gid: await primaryGroupOf(uid, changer.dir), dir: changer.dir };
}

async function openSiteAs(webroot: string, log: PluginContext['log']): Promise<Site | OwnerSite> {
  const owner = await ownerToActAs(webroot);
  return owner === undefined ? openSite(webroot) : ownerSite(webroot, owner, log);
}

/** Opens (creating when missing) `<webroot>/.well-known/acme-challenge`, following no link below the webroot. */
async function openSite(webroot: string): Promise<Site> {
  let root: Directory;
  try {
    root = await openDirectory(webroot);
  } catch (error) {
    throw new PluginError(`cannot open webroot ${webroot}: ${reasonOf(error)}`, { cause: error });
  }
  let wellKnown: { dir: Directory; created: boolean } | undefined;
  try {
    wellKnown = await makeSiteDir(root, WELL_KNOWN, webroot);
    const challenge = await makeSiteDir(wellKnown.dir, ACME_CHALLENGE, webroot);
    return {
      root,
      wellKnown: wellKnown.dir,
      challenge: challenge.dir,
      createdWellKnown: wellKnown.created,
      createdChallenge: challenge.created,
      files: new Map(),
    };
  } catch (error) {
    if (wellKnown !== undefined) {
      await wellKnown.dir.close();
      if (wellKnown.created) await rmdir(root.at(WELL_KNOWN)).catch(() => undefined);
    }
    await root.close();
    throw error;
  }
}

async function makeSiteDir(
  parent: Directory,
  name: string,
  webroot: string,
): Promise<{ dir: Directory; created: boolean }> {
  try {
    return await makeDirectoryIn(parent, name, DIR_MODE);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'ELOOP') {
      const target = await symlinkTarget(parent, name).catch(() => undefined);
      if (target !== undefined) throw symlinkRefused(path.join(parent.path, name), target, webroot);
      throw new PluginError(`${path.join(parent.path, name)} exists and is not a directory`);
    }
    throw new PluginError(`cannot create ${path.join(parent.path, name)}: ${reasonOf(error)}`, { cause: error });
  }
}

/** prepare's early check: a symlink at `.well-known` or `.well-known/acme-challenge` is refused. */
async function refuseLinksBelow(webroot: string): Promise<void> {
  let dir: Directory;
  try {
    dir = await openDirectory(webroot);
  } catch {
    return; // present says why
  }
  try {
    const target = await symlinkTarget(dir, WELL_KNOWN);
    if (target !== undefined) throw symlinkRefused(path.join(webroot, WELL_KNOWN), target, webroot);
    let wellKnown: Directory;
    try {
      wellKnown = await openDirectoryIn(dir, WELL_KNOWN);
    } catch {
      return; // missing (present creates it), or replaced meanwhile (present refuses it)
    }
    try {
      const inner = await symlinkTarget(wellKnown, ACME_CHALLENGE);
      if (inner !== undefined) throw symlinkRefused(path.join(wellKnown.path, ACME_CHALLENGE), inner, webroot);
    } finally {
      await wellKnown.close();
    }
  } finally {
    await dir.close();
  }
}

/**
 * Root must not follow a link the web user can plant: it would create and delete files wherever
 * the link points. The administrator who made the link on purpose gets the -w that works.
 */
function symlinkRefused(link: string, target: string, webroot: string): PluginError {
  const resolved = path.resolve(path.dirname(link), target);
  // `.well-known -> /srv/acme/.well-known` serves what -w /srv/acme would.
  const below = path.relative(webroot, link).split(path.sep);
  let servedRoot = resolved;
  for (let i = below.length - 1; i >= 0; i--) {
    if (path.basename(servedRoot) !== below[i]) {
      servedRoot = '';
      break;
    }
    servedRoot = path.dirname(servedRoot);
  }
  const hint =
    servedRoot === ''
      ? `make ${link} a directory, or give -w the directory whose ${below.join('/')} the web server serves`
      : `give that directory's webroot instead: -w ${servedRoot}`;
  return new PluginError(`${link} is a symlink to ${target}: acmecli does not follow symlinks below the webroot`, {
    hint,
  });
}

/** Writes the challenge file inside `dir` (the open acme-challenge directory); returns its identity. */
async function writeChallengeFile(dir: Directory, token: string, content: string, file: string): Promise<FileIdentity> {
  for (let attempt = 0; ; attempt++) {
    let handle;
    try {
      handle = await open(dir.at(token), CREATE_NEW, FILE_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new PluginError(`cannot write ${file}: ${reasonOf(error)}`, { cause: error });
      }
      // A CA reuses a pending authorization (same token) after an interrupted run: replace the
      // leftover, but never a directory; unlinking a symlink removes the link, not its target.
      try {
        if ((await lstat(dir.at(token))).isDirectory()) throw new PluginError(`${file} exists and is a directory`);
        await unlink(dir.at(token));
      } catch (leftoverError) {
        if (leftoverError instanceof PluginError) throw leftoverError;
        // ENOENT: removed meanwhile, the next attempt creates it.
        if ((leftoverError as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new PluginError(`cannot replace ${file}: ${reasonOf(leftoverError)}`, { cause: leftoverError });
        }
      }
      continue;
    }
    try {
      // On the descriptor: the umask would mask the mode, and a chmod by name would follow
      // whatever the web user renamed into the name meanwhile.
      await handle.chmod(FILE_MODE);
      await handle.writeFile(content);
      return await handle.identity();
    } catch (error) {
      throw new PluginError(`cannot write ${file}: ${reasonOf(error)}`, { cause: error });
    } finally {
      await handle.close();
    }
  }
}
