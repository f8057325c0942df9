/**
 * Where acmecli keeps its files. Every path is built here so the layout is written down once:
 *
 * <configDir>/                          defaultConfigDir(): /etc/acmecli for root on Linux, ...
 * ├── config.ini                        settings file (`key = value`, certbot cli.ini habit)
 * ├── locks/
 * │   └── <name>.lock                   "pid hostname startedAt token start bootId" (lock.ts)
 * ├── accounts/                         0700
 * │   └── <serverKey>/                  serverKey(directoryUrl): host[_port]_path[_configurationId-x]
 * │       └── <accountName>/            0700, e.g. "default"
 * │           ├── account.key           account key, PEM, 0600 (written first)
 * │           └── account.json          AccountRecord (written second)
 * └── certificates/
 *     └── <certDir>/                    certDirName(certName): `*.example.com` → `_wildcard.example.com`
 *         ├── privkey.pem               live files: what web servers point at; replaced key-first,
 *         ├── cert.pem                  each by an atomic rename
 *         ├── chain.pem
 *         ├── fullchain.pem
 *         ├── renewal.json              RenewalSettings, rewritten atomically
 *         ├── current                   number of the archive version the live files are (last)
 *         └── archive/                  0700
 *             └── <n>/                  one complete version, never modified once its manifest exists
 *                 ├── privkey.pem  cert.pem  chain.pem  fullchain.pem  renewal.json
 *                 └── manifest.json     SHA-256 of each file; written last = version complete
 *
 * Names on disk use only [A-Za-z0-9._-] so the same tree works on Linux, macOS and Windows
 * (no `*`, no `:`, no reserved device names, no trailing dot).
 */
import { createHash } from 'node:crypto';
import { homedir as osHomedir } from 'node:os';
import { join, posix, sep, win32 } from 'node:path';
import { domainToASCII } from 'node:url';
import { LocalError, UsageError } from '../errors.js';

export const CONFIG_FILE_NAME = 'config.ini';
export const ACCOUNT_RECORD_FILE = 'account.json';
export const ACCOUNT_KEY_FILE = 'account.key';
export const RENEWAL_FILE = 'renewal.json';
export const CURRENT_FILE = 'current';
export const MANIFEST_FILE = 'manifest.json';
export const ARCHIVE_DIR = 'archive';

export interface DefaultConfigDirInput {
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
  /** process.getuid?.(); undefined on Windows. */
  uid: number | undefined;
  /** Falls back to os.homedir() when HOME / USERPROFILE are unset. */
  homedir?: string;
}

export function defaultConfigDir(input: DefaultConfigDirInput): string {
  const { platform, env, uid } = input;
  if (platform === 'win32') {
    const programData = nonEmpty(env['ProgramData']) ?? nonEmpty(env['PROGRAMDATA']) ?? 'C:\\ProgramData';
    return win32.join(programData, 'acmecli');
  }
  if (platform === 'darwin') {
    return posix.join(home(input), 'Library', 'Application Support', 'acmecli');
  }
  if (uid === 0) return '/etc/acmecli';
  const xdg = nonEmpty(env['XDG_CONFIG_HOME']);
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg !== undefined && xdg.startsWith('/')) return posix.join(xdg, 'acmecli');
  return posix.join(home(input), '.config', 'acmecli');
}

function home(input: DefaultConfigDirInput): string {
  const value = nonEmpty(input.env['HOME']) ?? nonEmpty(input.homedir) ?? nonEmpty(osHomedir());
  if (value === undefined) {
    throw new LocalError('cannot find a home directory for the configuration; pass --config-dir');
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * A readable, stable directory name for an ACME server: host, port when not the default, path
 * segments and EJBCA's `configurationId`, joined with `_`:
 *   https://acme.example/ejbca/acme/a1/directory → acme.example_ejbca_acme_a1_directory
 *   https://localhost:14000/dir                  → localhost_14000_dir
 * The scheme is ignored (https only; http is loopback testing). When the readable form had to
 * drop information (characters outside [a-z0-9.-], upper case that would fold on case-insensitive
 * file systems) an 8-hex digest of the URL is appended, so distinct URLs never share a directory.
 */
export function serverKey(directoryUrl: string): string {
  let url: URL;
  try {
    url = new URL(directoryUrl);
  } catch {
    throw new UsageError(`not a valid ACME directory URL: ${directoryUrl}`);
  }
  let lossy = false;
  const clean = (part: string): string => {
    const lowered = part.toLowerCase();
    const replaced = lowered.replace(/[^a-z0-9.-]/g, '-');
    if (replaced !== part) lossy = true;
    return replaced;
  };
  const parts = [url.hostname.replace(/^\[|\]$/g, '').replace(/:/g, '-')];
  if (url.hostname.includes(':')) lossy = true;
  if (url.port !== '') parts.push(url.port);
  // Empty segments are dropped: `/dir/` and `/dir` name the same server.
  for (const segment of url.pathname.split('/')) {
    if (segment !== '') parts.push(clean(segment));
  }
  const configurationId = url.searchParams.get('configurationId');
  if (configurationId !== null) parts.push(`configurationId-${clean(configurationId)}`);
  let key = parts.join('_').replace(/^\.+/, '');
  if (key.length > 120) {
    key = key.slice(0, 120);
    lossy = true;
  }
  key = avoidReservedName(key);
  if (!lossy) return key;
  const canonical = `${url.host}${url.pathname}${configurationId === null ? '' : `?configurationId=${configurationId}`}`;
  return `${key}_${createHash('sha256').update(canonical).digest('hex').slice(0, 8)}`;
}

const MAX_NAME_LENGTH = 200;
const NAME_CHARS = /^[A-Za-z0-9._-]+$/;
// Windows treats these (with any extension: `con.example.com`) as devices, not files.
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
const WILDCARD_PREFIX = '*.';
const WILDCARD_DIR_PREFIX = '_wildcard.';
/** A leading `_` is reserved for the directory-name mappings below, which keeps them reversible. */
const MAPPED_PREFIX = '_';

/**
 * Validates a certificate name (certbot's lineage name) and returns its canonical form.
 * Allowed: [A-Za-z0-9._-], Unicode domain names (converted to punycode, `xn--`), and `*` only as
 * a whole first label (`*.example.com`). Not allowed: path separators, `..`, a leading dot or
 * underscore, a trailing dot (Windows drops it), more than 200 characters.
 */
export function validateCertName(name: string): string {
  return validateName(name, 'certificate name', true);
}

/** Same rules as certificate names, without the wildcard label. */
export function validateAccountName(name: string): string {
  return validateName(name, 'account name', false);
}

function validateName(input: string, what: string, allowWildcard: boolean): string {
  const fail = (why: string): never => {
    throw new UsageError(`invalid ${what} ${JSON.stringify(input)}: ${why}`);
  };
  if (input === '') fail('it is empty');
  if (/[/\\]/.test(input)) fail('it contains a path separator');
  if (input.includes('..')) fail('it contains ".."');
  if (input.startsWith('.')) fail('it starts with a dot');
  if (input.startsWith(MAPPED_PREFIX)) fail('it starts with "_" (reserved for acmecli\'s own directory names)');
  if (input.endsWith('.')) fail('it ends with a dot (Windows would drop it)');
  let name = input;
  const wildcard = allowWildcard && name.startsWith(WILDCARD_PREFIX);
  if (wildcard) name = name.slice(WILDCARD_PREFIX.length);
  if (name.includes('*')) fail(allowWildcard ? '"*" is only allowed as the whole first label' : '"*" is not allowed');
  if (/[^\x00-\x7f]/.test(name)) {
    const ascii = domainToASCII(name);
    if (ascii === '') fail('it is not a valid internationalised domain name');
    name = ascii;
  }
  if (name === '' || !NAME_CHARS.test(name) || name.startsWith(MAPPED_PREFIX) || name.startsWith('.')) {
    fail(`only letters, digits, ".", "-", "_"${allowWildcard ? ' and a leading "*."' : ''} are allowed`);
  }
  const result = wildcard ? `${WILDCARD_PREFIX}${name}` : name;
  if (result.length > MAX_NAME_LENGTH) fail(`it is longer than ${MAX_NAME_LENGTH} characters`);
  return result;
}

/**
 * The directory name of a certificate name. Reversible (`certNameFromDirName`) so listing the
 * directory gives back the names users typed:
 *   example.com    → example.com
 *   *.example.com  → _wildcard.example.com   (certbot uses example.com, which collides with a
 *                                            separate certificate for the apex)
 *   con.example    → _con.example           (a Windows device name otherwise)
 * Valid names never start with `_`, so the mapped forms cannot clash with a user-chosen name.
 */
export function certDirName(certName: string): string {
  const name = validateCertName(certName);
  if (name.startsWith(WILDCARD_PREFIX)) return `${WILDCARD_DIR_PREFIX}${name.slice(WILDCARD_PREFIX.length)}`;
  return avoidReservedName(name);
}

/** Inverse of certDirName; undefined for directory names certDirName never produces. */
export function certNameFromDirName(dirName: string): string | undefined {
  const name = dirName.startsWith(WILDCARD_DIR_PREFIX)
    ? `${WILDCARD_PREFIX}${dirName.slice(WILDCARD_DIR_PREFIX.length)}`
    : restoreReservedName(dirName);
  try {
    const valid = validateCertName(name);
    return certDirName(valid) === dirName ? valid : undefined;
  } catch {
    return undefined;
  }
}

export function accountDirName(accountName: string): string {
  return avoidReservedName(validateAccountName(accountName));
}

export function accountNameFromDirName(dirName: string): string | undefined {
  try {
    const valid = validateAccountName(restoreReservedName(dirName));
    return accountDirName(valid) === dirName ? valid : undefined;
  } catch {
    return undefined;
  }
}

function firstLabel(name: string): string {
  const dot = name.indexOf('.');
  return dot === -1 ? name : name.slice(0, dot);
}

function avoidReservedName(name: string): string {
  return RESERVED.test(firstLabel(name)) ? `${MAPPED_PREFIX}${name}` : name;
}

function restoreReservedName(name: string): string {
  if (!name.startsWith(MAPPED_PREFIX)) return name;
  const rest = name.slice(MAPPED_PREFIX.length);
  return RESERVED.test(firstLabel(rest)) ? rest : name;
}

export function configFilePath(configDir: string): string {
  return join(configDir, CONFIG_FILE_NAME);
}

export function locksDir(configDir: string): string {
  return join(configDir, 'locks');
}

export function accountsDir(configDir: string): string {
  return join(configDir, 'accounts');
}

export function certificatesDir(configDir: string): string {
  return join(configDir, 'certificates');
}

export interface AccountPaths {
  dir: string;
  record: string;
  key: string;
}

export function accountPaths(configDir: string, server: string, accountName: string): AccountPaths {
  const dir = join(accountsDir(configDir), serverKey(server), accountDirName(accountName));
  return { dir, record: join(dir, ACCOUNT_RECORD_FILE), key: join(dir, ACCOUNT_KEY_FILE) };
}

export type LiveFileName = 'privkey.pem' | 'cert.pem' | 'chain.pem' | 'fullchain.pem';

export interface LineagePaths {
  dir: string;
  privkey: string;
  cert: string;
  chain: string;
  fullchain: string;
  renewal: string;
  current: string;
  archive: string;
}

export function lineagePaths(configDir: string, certName: string): LineagePaths {
  return lineagePathsIn(join(certificatesDir(configDir), certDirName(certName)));
}

/**
 * `dir`/`name` for a directory that is already a normalized path (from join or a listing) and a
 * single name of our own (a file name constant, a lineage directory name, a version number).
 * path.join normalizes character by character: in the binaries' interpreter-only V8 that was a
 * third of `renew` over 1,000 lineages, for a result that is plain concatenation here.
 */
export function childPath(dir: string, name: string): string {
  return `${dir}${sep}${name}`;
}

/** The same from a lineage directory already known to be one (listed under certificatesDir). */
export function lineagePathsIn(dir: string): LineagePaths {
  return {
    dir,
    privkey: childPath(dir, 'privkey.pem'),
    cert: childPath(dir, 'cert.pem'),
    chain: childPath(dir, 'chain.pem'),
    fullchain: childPath(dir, 'fullchain.pem'),
    renewal: childPath(dir, RENEWAL_FILE),
    current: childPath(dir, CURRENT_FILE),
    archive: childPath(dir, ARCHIVE_DIR),
  };
}

export function archiveVersionDir(configDir: string, certName: string, version: number): string {
  return join(lineagePaths(configDir, certName).archive, String(version));
}
