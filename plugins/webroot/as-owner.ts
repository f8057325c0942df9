/**
 * The webroot's file operations done as the one user who can change the path to the webroot.
 *
 * Anchored writes (an open directory, O_EXCL|O_NOFOLLOW) protect what lies below the webroot, but
 * the webroot itself is opened by its path. When a user U can rename a directory on that path
 * (`-w /home/alice/public_html`, /home/alice being alice's), U can put a link to /etc/cron.d in
 * its place just before root opens it, and whatever root creates lands where U pointed it. As U,
 * the same steps can land only where U could write anyway: the kernel enforces U's rights, and no
 * check of ours has a window to race. OpenSSH reads `~/.ssh/authorized_keys` as the user for the
 * same reason. Windows is not handled here: no uids, and whoCanChangePathTo reports nobody there.
 *
 * The steps are a fixed `/bin/sh` script, the values given as positional arguments (never pasted
 * into the script): a uid-switched child needs no second copy of Node, and coreutils' mkdir/rm
 * with `set -C` (O_EXCL) do what the in-process code does. umask 022: the web server reads what U
 * creates as it reads U's other content.
 */
import { PluginError } from '../../src/errors.js';
import type { PluginContext } from '../../src/challenges/plugin.js';

export interface Owner {
  uid: number;
  gid: number;
  /** The directory on the path that U can change: for messages. */
  dir: string;
}

/** A webroot whose files are written by children running as `owner`. */
export interface OwnerSite {
  owner: Owner;
  /** Tokens written and not yet removed: the last removal removes the directories too. */
  tokens: Set<string>;
  write(token: string, content: string, file: string): Promise<void>;
  remove(token: string, file: string): Promise<void>;
  /** Removes `.well-known/acme-challenge` and `.well-known` when this run created them and they are empty. */
  close(): Promise<void>;
}

// $1 operation, $2 webroot, then the operation's own arguments. Exit 3: a symlink below the
// webroot (stderr: its name, then its target), refused as the in-process code refuses it.
const SCRIPT = `set -eu
umask 022
cd -- "$2"
case $1 in
write)
  for d in .well-known acme-challenge; do
    if [ -L "$d" ]; then printf '%s\\n' "$d" >&2; readlink -- "$d" >&2 || true; exit 3; fi
    # Told at once, so that clean-up removes it even when a later step fails.
    if mkdir -- "$d" 2>/dev/null; then echo "$d"; fi
    cd -- "$d"
  done
  set -C
  if ! { printf '%s' "$4" > "$3"; } 2>/dev/null; then
    # A pending authorization's leftover from an interrupted run: replaced, unless not a plain file.
    if [ -L "$3" ] || [ ! -f "$3" ]; then echo "$3 exists and is not a regular file" >&2; exit 1; fi
    rm -f -- "$3"
    printf '%s' "$4" > "$3"
  fi
  ;;
remove)
  rm -f -- ".well-known/acme-challenge/$3"
  ;;
rmdir)
  if [ "$3" = yes ]; then rmdir -- .well-known/acme-challenge 2>/dev/null || true; fi
  if [ "$4" = yes ]; then rmdir -- .well-known 2>/dev/null || true; fi
  ;;
esac
`;

/** A child gets this environment only: nothing of acmecli's own (secrets in variables) reaches it. */
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/** A child does three file operations; one that hangs (a dead network mount) must not hang the run. */
const CHILD_TIMEOUT_MS = 120_000;

export class SymlinkBelowWebroot extends Error {
  constructor(
    readonly link: string,
    readonly target: string,
  ) {
    super(`${link} is a symlink`);
  }
}

export function ownerSite(webroot: string, owner: Owner, log: PluginContext['log']): OwnerSite {
  const tokens = new Set<string>();
  let createdWellKnown = false;
  let createdChallenge = false;
  log.debug(`webroot: ${owner.dir} can be changed by uid ${owner.uid}: writing in ${webroot} as uid ${owner.uid}`);
  return {
    owner,
    tokens,
    async write(token, content, file) {
      // Added first: a child that failed after creating the file must not leave it behind.
      tokens.add(token);
      await runAs(owner, ['write', webroot, token, content], `cannot write ${file}`, webroot, (out) => {
        const created = out.split('\n');
        createdWellKnown ||= created.includes('.well-known');
        createdChallenge ||= created.includes('acme-challenge');
      });
      log.debug(`webroot: wrote ${file} as uid ${owner.uid}`);
    },
    async remove(token, file) {
      if (!tokens.delete(token)) return;
      await runAs(owner, ['remove', webroot, token], `cannot remove ${file}`, webroot);
      log.debug(`webroot: removed ${file}`);
    },
    async close() {
      if (!createdChallenge && !createdWellKnown) return;
      const yes = (created: boolean) => (created ? 'yes' : 'no');
      await runAs(
        owner,
        ['rmdir', webroot, yes(createdChallenge), yes(createdWellKnown)],
        `cannot clean up ${webroot}`,
        webroot,
      );
    },
  };
}

/** Runs SCRIPT as `owner`; `onOutput` gets its stdout whether it succeeded or not. */
function runAs(
  owner: Owner,
  args: readonly string[],
  failure: string,
  webroot: string,
  onOutput?: (stdout: string) => void,
): Promise<void> {
  // Loaded here: node:child_process costs memory on every run, and only this case needs it.
  const { execFile } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve, reject) => {
    // uid/gid make libuv call setgroups(0) too: the child has U's primary group only, none of root's.
    execFile(
      '/bin/sh',
      ['-c', SCRIPT, 'acmecli-webroot', ...args],
      { uid: owner.uid, gid: owner.gid, env: CHILD_ENV, cwd: '/', timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        onOutput?.(String(stdout));
        if (error === null) return resolve();
        const lines = String(stderr).trim().split('\n');
        if (error.code === 3 && lines.length >= 1) {
          const name = lines[0] ?? '';
          const link = name === '.well-known' ? `${webroot}/.well-known` : `${webroot}/.well-known/acme-challenge`;
          return reject(new SymlinkBelowWebroot(link, lines[1] ?? '?'));
        }
        const why = lines.at(-1)?.replace(/^acmecli-webroot: (\d+: )?/, '') || error.message;
        reject(new PluginError(`${failure} as uid ${owner.uid}, the owner of ${owner.dir}: ${why}`, { cause: error }));
      },
    );
  });
}

/** U's primary group, from the user database (NSS: LDAP users included); getent, as Node has no getpwuid. */
export function primaryGroupOf(uid: number, dir: string): Promise<number> {
  const { execFile } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve, reject) => {
    execFile('getent', ['passwd', String(uid)], { env: CHILD_ENV, timeout: CHILD_TIMEOUT_MS }, (error, stdout) => {
      const gid = Number(String(stdout).split(':')[3]);
      if (error === null && Number.isSafeInteger(gid) && gid >= 0) return resolve(gid);
      reject(
        new PluginError(
          `${dir} is owned by uid ${uid}, which has no account (getent passwd ${uid}): acmecli cannot write the webroot as that user`,
          {
            hint: `chown root ${dir}`,
          },
        ),
      );
    });
  });
}
