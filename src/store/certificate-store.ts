/**
 * Certificate lineages (certbot's word).
 *
 * Write protocol (`writeLineage`), each step durable before the next:
 *   1. archive/<n>/ gets privkey, cert, chain, fullchain and renewal.json, then manifest.json
 *      with the SHA-256 of each. The manifest is written last: a version without one is
 *      incomplete and ignored. Versions are never modified afterwards.
 *   2. The live files switch to that version. On POSIX they are fixed symlinks through `live`, a
 *      symlink to archive/<n>, so one rename switches the whole set (installLiveLink). On
 *      Windows (no symlinks without privileges) they are copies, replaced key first (privkey,
 *      cert, chain, fullchain), each by an atomic rename. Then renewal.json.
 *   3. `current` is rewritten with <n>: the swap is committed.
 *   4. Old versions beyond `keep` are removed.
 *
 * Read protocol (`readLineage`): read `current`, then the files of archive/<current>/, checked
 * against its manifest. Archive files never change, so a reader sees the complete old set until
 * step 3 and the complete new set after it, whatever instant it reads at. Web servers read the
 * live files and are reloaded only after `writeLineage` has returned.
 *
 * Crash recovery (`repairLineage`, at the start of the next run, under the certificate lock):
 * live files that are a mix of versions, or an archive version newer than `current`, are replaced
 * by the last complete version and `current` is rewritten.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, type Dirent } from 'node:fs';
import {
  CREATE_OR_TRUNCATE,
  codeOf,
  exists,
  localErrorFor,
  lstat,
  makeDirectoryIn,
  mkdir,
  open,
  openDirectory,
  openDirectoryIn,
  readlink,
  removeFile,
  rename,
  rm,
  rmdir,
  symlink,
  subdirectoryNames,
  symlinkTarget,
  unlink,
  type Directory,
} from './fs.js';
import { dirname, join } from 'node:path';
import { LocalError } from '../errors.js';
import { atomicWrite, atomicWriteIn, cleanStaleTempFiles, ensureDir, fsyncDir, tempNameFor } from './atomic-write.js';
import {
  ARCHIVE_DIR,
  MANIFEST_FILE,
  RENEWAL_FILE,
  certNameFromDirName,
  certificatesDir,
  lineagePaths,
  type LineagePaths,
  type LiveFileName,
  childPath,
} from './layout.js';
import {
  parseRenewalSettings,
  RENEWAL_SETTINGS_FORMAT,
  serializeRenewalSettings,
  type RenewalSettings,
} from './settings.js';
import {
  NewerFormatError,
  parseStored,
  refuseToReplaceNewer,
  serializeStored,
  UNCHANGED,
  type StoredFormat,
} from './stored-json.js';
import { assertOutputDirectory, assertTrustedDirectory, readTrustedFile } from './trust.js';

/** PEM texts. `chain` is the issuer chain without the leaf; `fullchain` is cert + chain. */
export interface CertificateFiles {
  cert: string;
  chain: string;
  fullchain: string;
  privkey: string;
}

export type CertificateFileKind = keyof CertificateFiles;

/** Key first: a reader that sees the new certificate must already find the new key. */
export const LIVE_WRITE_ORDER: readonly CertificateFileKind[] = ['privkey', 'cert', 'chain', 'fullchain'];

export const FILE_NAMES: Readonly<Record<CertificateFileKind, LiveFileName>> = {
  privkey: 'privkey.pem',
  cert: 'cert.pem',
  chain: 'chain.pem',
  fullchain: 'fullchain.pem',
};

export const DEFAULT_ARCHIVE_KEEP = 5;
const PRIVATE = 0o600;
const PUBLIC = 0o644;

interface Manifest {
  number: number;
  createdAt: string;
  /** File name → SHA-256 hex of its bytes. */
  files: Record<string, string>;
}

/** manifest.json: never rewritten (archive versions are immutable), so older versions are only read. */
const MANIFEST_FORMAT: StoredFormat<Manifest> = {
  version: 1,
  migrations: { 0: UNCHANGED },
  check(stored, field) {
    const files = Object.entries(field.object(stored.files, 'files')).map(
      ([name, hash]) => [name, field.sha256(hash, `files.${name}`)] as const,
    );
    return {
      number: field.positiveInteger(stored.number, 'number'),
      createdAt: field.date(stored.createdAt, 'createdAt'),
      files: Object.fromEntries(files),
    };
  },
};

export interface ArchiveVersion {
  number: number;
  createdAt: string;
  files: CertificateFiles;
  /** renewal.json exactly as written with this version. */
  settingsText: string;
}

export interface WriteLineageOptions {
  /** Complete versions to keep in archive/ (the current one always stays). Default 5, minimum 1. */
  keep?: number;
  now?: () => Date;
}

export interface WriteLineageResult {
  version: number;
  paths: LineagePaths;
  /** Archive versions removed by pruning. */
  pruned: number[];
}

export async function writeLineage(
  configDir: string,
  certName: string,
  files: CertificateFiles,
  settings: RenewalSettings,
  options: WriteLineageOptions = {},
): Promise<WriteLineageResult> {
  const paths = lineagePaths(configDir, certName);
  const settingsText = serializeRenewalSettings(settings, paths.renewal);
  // The marker brackets steps 1 to 3: a lineage without it needs no repair (lineageNeedsRepair).
  // Step 1 is inside, so a run killed while writing the archive leaves the marker, and the next
  // run's repair removes the incomplete version and its temp files even when nothing is due.
  const marker = join(paths.dir, SWAP_MARKER_FILE);
  // As in saveAccount: the lock and the reads before checked this; a writer checks for itself.
  assertTrustedDirectory(paths.dir);
  refuseToReplaceNewer(RENEWAL_SETTINGS_FORMAT, paths.renewal);
  await ensureDir(paths.dir, 0o700);
  await writeSwapMarker(paths.dir, marker);
  const version = await writeArchiveVersion(configDir, certName, files, settingsText, options.now);
  await installVersion(paths, version, files, settingsText);
  await unlink(marker);
  const pruned = await pruneArchive(configDir, certName, options.keep ?? DEFAULT_ARCHIVE_KEEP);
  return { version, paths, pruned };
}

/**
 * Creates the swap marker in place rather than through atomicWrite: only its existence counts,
 * and a run killed while writing it must leave the marker (empty, at worst), not a temp file
 * that no later run would look for (repair runs only where a marker exists).
 */
async function writeSwapMarker(dir: string, marker: string): Promise<void> {
  try {
    // Never through a symlink planted at its name: O_TRUNC would empty the link's target.
    const handle = await open(marker, CREATE_OR_TRUNCATE, PUBLIC);
    try {
      // For a human looking at a stuck lineage: which run was writing.
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsyncDir(dir);
  } catch (error) {
    throw localErrorFor('write', marker, error);
  }
}

/** Step 1: a new complete, immutable archive version. Returns its number. */
export async function writeArchiveVersion(
  configDir: string,
  certName: string,
  files: CertificateFiles,
  settingsText: string,
  now: () => Date = () => new Date(),
): Promise<number> {
  const paths = lineagePaths(configDir, certName);
  const archive = await openArchive(paths, true);
  try {
    const number = (versionNumbers(await listArchive(archive)).at(-1) ?? 0) + 1;
    const name = String(number);
    const dirPath = join(paths.archive, name);
    let dir: Directory;
    try {
      // Not recursive: EEXIST means another writer got here, i.e. the certificate lock was not held.
      await mkdir(archive.at(name), { mode: 0o700 });
      dir = await openDirectoryIn(archive, name);
    } catch (error) {
      throw localErrorFor('create directory', dirPath, error);
    }
    try {
      await archive.sync().catch(() => undefined);
      const hashes: Record<string, string> = {};
      for (const kind of LIVE_WRITE_ORDER) {
        const file = FILE_NAMES[kind];
        await atomicWriteIn(dir, file, files[kind], { mode: kind === 'privkey' ? PRIVATE : PUBLIC });
        hashes[file] = sha256(files[kind]);
      }
      await atomicWriteIn(dir, RENEWAL_FILE, settingsText, { mode: PRIVATE });
      hashes[RENEWAL_FILE] = sha256(settingsText);
      const manifest: Manifest = { number, createdAt: now().toISOString(), files: hashes };
      const manifestText = serializeStored(MANIFEST_FORMAT, manifest, join(dirPath, MANIFEST_FILE));
      await atomicWriteIn(dir, MANIFEST_FILE, manifestText, { mode: PUBLIC });
    } finally {
      await dir.close();
    }
    return number;
  } finally {
    await archive.close();
  }
}

/**
 * A lineage's archive/, opened without following a symlink there (created when `create` and
 * missing; undefined when missing otherwise). The versions hold private keys: a link planted in
 * its place would have new keys written, and old versions pruned, wherever it points.
 */
async function openArchive(paths: LineagePaths, create: true): Promise<Directory>;
async function openArchive(paths: LineagePaths, create: false): Promise<Directory | undefined>;
async function openArchive(paths: LineagePaths, create: boolean): Promise<Directory | undefined> {
  if (create) await ensureDir(paths.dir, 0o700);
  let lineage: Directory;
  try {
    lineage = await openDirectory(paths.dir);
  } catch (error) {
    if (!create && (codeOf(error) === 'ENOENT' || codeOf(error) === 'ENOTDIR')) return undefined;
    throw localErrorFor('read directory', paths.dir, error);
  }
  try {
    return create
      ? (await makeDirectoryIn(lineage, ARCHIVE_DIR, 0o700)).dir
      : await openDirectoryIn(lineage, ARCHIVE_DIR);
  } catch (error) {
    const code = codeOf(error);
    if (!create && code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR' || code === 'ELOOP') {
      const target = await symlinkTarget(lineage, ARCHIVE_DIR).catch(() => undefined);
      if (target !== undefined) {
        throw new LocalError(
          `${paths.archive} is a symlink to ${target}: acmecli does not follow symlinks in its configuration directory`,
          {
            hint: `if you moved the archive there yourself, move it back: rm ${paths.archive} && mv ${target} ${paths.archive}`,
          },
        );
      }
    }
    throw localErrorFor(create ? 'create directory' : 'read directory', paths.archive, error);
  } finally {
    await lineage.close();
  }
}

async function listArchive(archive: Directory): Promise<Dirent[]> {
  try {
    return await archive.list();
  } catch (error) {
    throw localErrorFor('read directory', archive.path, error);
  }
}

/**
 * Removes one archive version inside the open archive: its files, then its directory. Nothing
 * is reached through a symlink: one in place of the version is left alone (it is not a version),
 * and unlink and rm remove links inside it without following them.
 */
async function removeVersion(archive: Directory, n: number): Promise<void> {
  const name = String(n);
  try {
    let version: Directory;
    try {
      version = await openDirectoryIn(archive, name);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return;
      throw error;
    }
    try {
      for (const entry of await version.list()) {
        // A version holds files only; a directory there is removed as a whole, inside the open version.
        if (entry.isDirectory()) await rm(version.at(entry.name), { recursive: true, force: true });
        else await unlink(version.at(entry.name));
      }
    } finally {
      await version.close();
    }
    await rmdir(archive.at(name));
  } catch (error) {
    throw localErrorFor('remove', join(archive.path, name), error);
  }
}

/** Step 2 for one file: replace a live file by an atomic rename. */
export async function installLiveFile(
  configDir: string,
  certName: string,
  kind: CertificateFileKind,
  content: string,
): Promise<void> {
  const paths = lineagePaths(configDir, certName);
  await atomicWrite(paths[kind], content, { mode: kind === 'privkey' ? PRIVATE : PUBLIC });
}

/** Step 3: commit. */
export async function writeCurrentMarker(configDir: string, certName: string, version: number): Promise<void> {
  await atomicWrite(lineagePaths(configDir, certName).current, `${version}\n`, { mode: PUBLIC });
}

async function installVersion(
  paths: LineagePaths,
  version: number,
  files: CertificateFiles,
  settingsText: string,
): Promise<void> {
  if (process.platform === 'win32') {
    // No symlinks for unprivileged users on Windows: copies, one rename each (repairLineage
    // mends a set a crash left half-replaced).
    for (const kind of LIVE_WRITE_ORDER) {
      await atomicWrite(paths[kind], files[kind], { mode: kind === 'privkey' ? PRIVATE : PUBLIC });
    }
  } else {
    await installLiveLink(paths, version);
  }
  await atomicWrite(paths.renewal, settingsText, { mode: PRIVATE });
  await atomicWrite(paths.current, `${version}\n`, { mode: PUBLIC });
}

/** The directory symlink the live files point through: `live` → `archive/<n>`. */
export const LIVE_LINK = 'live';

/**
 * POSIX: cert.pem, chain.pem, fullchain.pem and privkey.pem are fixed symlinks `live/<file>`,
 * and `live` is a symlink to the archive version in use. Switching versions is one rename of
 * `live`, so whatever instant a run is killed at, a web server (re)reading the live files gets
 * the complete old set or the complete new set — never a key from one and a certificate from the
 * other. The archive versions are immutable, so the targets never change under a reader.
 */
async function installLiveLink(paths: LineagePaths, version: number): Promise<void> {
  // The fixed links first: on a first issue they dangle until `live` exists, so the four files
  // appear together with the rename below rather than one by one.
  for (const kind of LIVE_WRITE_ORDER) {
    const target = join(LIVE_LINK, FILE_NAMES[kind]);
    if (!(await isSymlinkTo(paths[kind], target))) await replaceWithSymlink(paths[kind], target);
  }
  await replaceWithSymlink(join(paths.dir, LIVE_LINK), join(ARCHIVE_DIR, String(version)));
  await fsyncDir(paths.dir);
}

async function isSymlinkTo(path: string, target: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink() && (await readlink(path)) === target;
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return false;
    throw localErrorFor('read', path, error);
  }
}

/** A symlink at `path` (replacing whatever is there) in one rename. */
async function replaceWithSymlink(path: string, target: string): Promise<void> {
  const temp = join(dirname(path), tempNameFor(path));
  try {
    await symlink(target, temp);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw localErrorFor('write', path, error);
  }
}

/**
 * Step 4: keep the `keep` newest complete versions and the current one; remove older ones and
 * incomplete leftovers of crashed writes. Call only with the certificate lock held.
 */
export async function pruneArchive(
  configDir: string,
  certName: string,
  keep = DEFAULT_ARCHIVE_KEEP,
): Promise<number[]> {
  const paths = lineagePaths(configDir, certName);
  const current = await readCurrentMarker(paths);
  const archive = await openArchive(paths, false);
  if (archive === undefined) return [];
  try {
    const numbers = versionNumbers(await listArchive(archive));
    const complete: number[] = [];
    for (const n of numbers) {
      if (await isComplete(archive.at(String(n)))) complete.push(n);
    }
    const kept = new Set(complete.slice(-Math.max(1, keep)));
    if (current !== undefined) kept.add(current);
    const removed: number[] = [];
    for (const n of numbers) {
      // With the lock held no other writer exists, so every incomplete version is crash debris.
      if (kept.has(n)) continue;
      await removeVersion(archive, n);
      removed.push(n);
    }
    return removed;
  } finally {
    await archive.close();
  }
}

export interface Lineage {
  certName: string;
  /** The archive version the files come from. */
  version: number;
  files: CertificateFiles;
  /** The live renewal.json (it may be updated after issuance by writeRenewalSettings). */
  settings: RenewalSettings;
  /** Live file paths, for display and for web server configuration. */
  paths: LineagePaths;
  /** Complete archive versions, oldest first. */
  versions: number[];
}

/**
 * Reads the committed version (see the read protocol above). Undefined when the certificate does
 * not exist; LocalError when it exists but cannot be read consistently.
 */
export async function readLineage(configDir: string, certName: string): Promise<Lineage | undefined> {
  const paths = lineagePaths(configDir, certName);
  // A concurrent writer may prune the version we are about to read between our two reads.
  for (let attempt = 0; ; attempt++) {
    try {
      return await readLineageOnce(certName, paths);
    } catch (error) {
      if (!(error instanceof VersionVanishedError) || attempt >= 2) {
        throw error instanceof VersionVanishedError ? error.toLocalError() : error;
      }
    }
  }
}

class VersionVanishedError extends Error {
  constructor(readonly dir: string) {
    super(`${dir} vanished`);
  }
  toLocalError(): LocalError {
    return new LocalError(`${this.dir}: archive version named by "current" is missing or incomplete`, {
      hint: 'run the command again; if it persists, reissue the certificate',
    });
  }
}

async function readLineageOnce(certName: string, paths: LineagePaths): Promise<Lineage | undefined> {
  const versions = await completeVersions(paths);
  const current = await readCurrentMarker(paths);
  if (current === undefined && versions.length === 0) {
    if (!exists(paths.dir)) return undefined;
    throw new LocalError(`${paths.dir}: certificate "${certName}" has no complete version`, {
      hint: 'an earlier run was interrupted before its first certificate was stored; issue it again',
    });
  }
  // Without a marker the first swap was interrupted; the newest complete version is what it was installing.
  const number = current ?? (versions.at(-1) as number);
  const dir = join(paths.archive, String(number));
  const version = await readArchiveVersion(dir);
  if (version === undefined) throw new VersionVanishedError(dir);
  const liveSettings = readTrustedFile(paths.renewal);
  const settings =
    liveSettings === undefined
      ? parseRenewalSettings(version.settingsText, join(dir, RENEWAL_FILE))
      : parseRenewalSettings(liveSettings, paths.renewal);
  return { certName, version: number, files: version.files, settings, paths, versions };
}

/**
 * Reads one archive version and checks every file against the manifest. Undefined when the
 * version is missing or incomplete (no manifest); LocalError when a file does not match it.
 */
export async function readArchiveVersion(dir: string): Promise<ArchiveVersion | undefined> {
  const manifest = await readManifest(dir);
  if (manifest === undefined) return undefined;
  const read = async (name: string): Promise<string> => {
    const path = join(dir, name);
    const text = readTrustedFile(path);
    if (text === undefined) throw new LocalError(`${path}: missing although ${MANIFEST_FILE} lists it`);
    checkAgainstManifest(dir, manifest, name, text);
    return text;
  };
  const files = {} as CertificateFiles;
  for (const kind of LIVE_WRITE_ORDER) files[kind] = await read(FILE_NAMES[kind]);
  return { number: manifest.number, createdAt: manifest.createdAt, files, settingsText: await read(RENEWAL_FILE) };
}

function checkAgainstManifest(dir: string, manifest: Manifest, name: string, text: string): void {
  if (sha256(text) !== manifest.files[name]) {
    throw new LocalError(`${join(dir, name)}: content does not match ${join(dir, MANIFEST_FILE)} (modified by hand?)`);
  }
}

/** What deciding whether a lineage is due reads of it; the certificate itself only on demand. */
export interface LineageSummary {
  certName: string;
  /** The archive version `current` names. */
  version: number;
  /** The live renewal.json. */
  settings: RenewalSettings;
  paths: LineagePaths;
  /** SHA-256 (hex) of that version's cert.pem as its manifest records it: names the certificate unread. */
  certificateSha256: string;
  /** That version's cert.pem, checked against the manifest. */
  readCertificate(): Promise<string>;
}

/**
 * The live settings and the committed version's manifest, without reading or hashing the
 * version's files: `renew` over a thousand lineages with nothing due reads three small files per
 * lineage instead of a dozen. Anything out of the ordinary (no `current`, a version pruned
 * meanwhile, no live renewal.json) is left to readLineage. Only the certificate is ever checked
 * against the manifest here: read the whole lineage (readLineage) before acting on it.
 */
export async function readLineageSummary(
  configDir: string,
  certName: string,
  paths: LineagePaths = lineagePaths(configDir, certName),
): Promise<LineageSummary | undefined> {
  const current = await readCurrentMarker(paths);
  if (current !== undefined) {
    const dir = childPath(paths.archive, String(current));
    const manifest = await readManifest(dir);
    const certificateSha256 = manifest?.files[FILE_NAMES.cert];
    const settingsText = readTrustedFile(paths.renewal);
    if (manifest !== undefined && typeof certificateSha256 === 'string' && settingsText !== undefined) {
      const readCertificate = async (): Promise<string> => {
        const cert = readTrustedFile(childPath(dir, FILE_NAMES.cert));
        if (cert === undefined) {
          // Pruned since (a concurrent `issue` committed a newer version): the committed one it is.
          const lineage = await readLineage(configDir, certName);
          if (lineage === undefined)
            throw new LocalError(`${paths.dir}: certificate "${certName}" vanished while being read`);
          return lineage.files.cert;
        }
        checkAgainstManifest(dir, manifest, FILE_NAMES.cert, cert);
        return cert;
      };
      const settings = parseRenewalSettings(settingsText, paths.renewal);
      return { certName, version: current, settings, paths, certificateSha256, readCertificate };
    }
  }
  const lineage = await readLineage(configDir, certName);
  if (lineage === undefined) return undefined;
  return {
    certName,
    version: lineage.version,
    settings: lineage.settings,
    paths: lineage.paths,
    certificateSha256: sha256(lineage.files.cert),
    readCertificate: async () => lineage.files.cert,
  };
}

export type RepairAction =
  /** Live files and marker are the newest complete version. */
  | 'none'
  /** Live files were already the newest version; only the marker (and renewal.json) were written. */
  | 'completed'
  /** Live files were a mix of versions or older than the newest complete version; rewritten. */
  | 'restored'
  /** Live files match no archived version but `matches` says key and certificate belong together (hand-installed): left alone. */
  | 'left-modified'
  /** No complete archive version exists: nothing to restore from. */
  | 'no-version';

export interface RepairResult {
  action: RepairAction;
  /** The version the live files now are, when known. */
  version?: number;
  /** Temp files and incomplete archive versions removed. */
  removed: string[];
}

export interface RepairOptions {
  /**
   * Whether a certificate and a private key belong together (crypto/ compares public keys).
   * Consulted only when the live files match no archived version; without it such files are left
   * alone, since they can only come from someone editing them by hand.
   */
  matches?: (certPem: string, keyPem: string) => boolean | Promise<boolean>;
}

/** Written before a new archive version is started and removed once `current` is committed. */
export const SWAP_MARKER_FILE = '.swap-in-progress';

/**
 * Whether a crash may have left this lineage's live files half-swapped: true while a swap marker
 * exists, or when the directory has no `current` marker yet. A cheap check (two stats), so
 * `renew` over many certificates only runs `repairLineage` where it can matter. Throws LocalError
 * when another user could change the lineage directory: nothing is read from it, nor repaired.
 */
export function lineageNeedsRepair(
  configDir: string,
  certName: string,
  paths: LineagePaths = lineagePaths(configDir, certName),
): boolean {
  assertTrustedDirectory(paths.dir);
  if (existsSync(childPath(paths.dir, SWAP_MARKER_FILE))) return true;
  // `current` first: it exists in every committed lineage, so that is usually the last stat.
  return !existsSync(paths.current) && existsSync(paths.dir);
}

/**
 * Brings the live files back to a complete set after a crash (see the module comment). Call at
 * the start of a run with the certificate lock held. `completed` and `restored` mean the reload
 * command of the interrupted run never ran: the caller should run it.
 */
export async function repairLineage(
  configDir: string,
  certName: string,
  options: RepairOptions = {},
): Promise<RepairResult> {
  const result = await repairLiveFiles(configDir, certName, options);
  // Whatever the outcome, the interrupted swap has been dealt with.
  await removeFile(join(lineagePaths(configDir, certName).dir, SWAP_MARKER_FILE));
  return result;
}

async function repairLiveFiles(configDir: string, certName: string, options: RepairOptions): Promise<RepairResult> {
  const paths = lineagePaths(configDir, certName);
  const removed: string[] = [];
  for (const name of await cleanStaleTempFiles(paths.dir)) removed.push(join(paths.dir, name));
  const archive = await openArchive(paths, false);
  if (archive !== undefined) {
    try {
      for (const n of versionNumbers(await listArchive(archive))) {
        for (const name of await cleanStaleTempFiles(archive.at(String(n))))
          removed.push(join(paths.archive, String(n), name));
      }
    } finally {
      await archive.close();
    }
  }

  const complete: ArchiveVersion[] = [];
  for (const n of await numberedDirs(paths.archive)) {
    try {
      const version = await readArchiveVersion(join(paths.archive, String(n)));
      if (version !== undefined) complete.push(version);
    } catch (error) {
      // A newer acmecli's version is not restored over by an older one.
      if (error instanceof NewerFormatError) throw error;
      // A corrupt version is not a restore source; the previous complete one is.
    }
  }
  const latest = complete.at(-1);
  if (latest === undefined) {
    await discardUncommittedLineage(paths, removed);
    return { action: 'no-version', removed };
  }

  // Both branches below may rewrite the live renewal.json.
  refuseToReplaceNewer(RENEWAL_SETTINGS_FORMAT, paths.renewal);
  const live: Partial<Record<CertificateFileKind, string>> = {};
  for (const kind of LIVE_WRITE_ORDER) {
    const text = readTrustedFile(paths[kind]);
    if (text !== undefined) live[kind] = text;
  }
  const current = await readCurrentMarker(paths);
  const isLatest = LIVE_WRITE_ORDER.every((kind) => live[kind] === latest.files[kind]);

  let action: RepairAction;
  if (isLatest) {
    if (current === latest.number && exists(paths.renewal)) {
      action = 'none';
    } else {
      // Interrupted after the last PEM rename: finish the swap.
      await atomicWrite(paths.renewal, latest.settingsText, { mode: PRIVATE });
      await writeCurrentMarker(configDir, certName, latest.number);
      action = 'completed';
    }
  } else {
    const known = LIVE_WRITE_ORDER.every((kind) => {
      const text = live[kind];
      return text === undefined || complete.some((v) => v.files[kind] === text);
    });
    let restore = known;
    if (!known) {
      const cert = live.cert;
      const key = live.privkey;
      restore =
        options.matches !== undefined &&
        (cert === undefined || key === undefined || !(await safeMatches(options.matches, cert, key)));
    }
    if (restore) {
      await installVersion(paths, latest.number, latest.files, latest.settingsText);
      action = 'restored';
    } else {
      return { action: 'left-modified', ...(current === undefined ? {} : { version: current }), removed };
    }
  }
  for (const n of await pruneArchive(configDir, certName, Number.MAX_SAFE_INTEGER)) {
    removed.push(join(paths.archive, String(n)));
  }
  return { action, version: latest.number, removed };
}

/**
 * A first issuance killed before its first archive version was complete leaves a directory with
 * nothing committed: readLineage refuses it, so issuing again would fail forever. With the lock
 * held, incomplete versions are crash debris; when nothing live was ever installed (no PEM file,
 * no marker, no renewal.json) the directory is removed so the next issuance starts afresh.
 * rmdir, not a recursive removal: anything else someone put there stays, and so does the error.
 */
async function discardUncommittedLineage(paths: LineagePaths, removed: string[]): Promise<void> {
  const live = [...LIVE_WRITE_ORDER.map((kind) => paths[kind]), paths.current, paths.renewal];
  for (const path of live) {
    if (exists(path)) return;
  }
  const archive = await openArchive(paths, false);
  if (archive !== undefined) {
    try {
      for (const n of versionNumbers(await listArchive(archive))) {
        await removeVersion(archive, n);
        removed.push(join(paths.archive, String(n)));
      }
    } finally {
      await archive.close();
    }
  }
  // The interrupted run's marker would keep the directory from being removed.
  await removeFile(join(paths.dir, SWAP_MARKER_FILE));
  for (const dir of [paths.archive, paths.dir]) {
    try {
      await rmdir(dir);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT') continue;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return;
      throw localErrorFor('remove', dir, error);
    }
  }
}

async function safeMatches(
  matches: NonNullable<RepairOptions['matches']>,
  cert: string,
  key: string,
): Promise<boolean> {
  try {
    return await matches(cert, key);
  } catch {
    // Unparsable PEM in a live file is as broken as a mismatched pair.
    return false;
  }
}

/** Rewrites the live renewal.json only (e.g. a changed reload command); archive copies stay as issued. */
export async function writeRenewalSettings(
  configDir: string,
  certName: string,
  settings: RenewalSettings,
): Promise<void> {
  const paths = lineagePaths(configDir, certName);
  if (!exists(paths.dir)) throw new LocalError(`certificate "${certName}" does not exist (${paths.dir})`);
  const text = serializeRenewalSettings(settings, paths.renewal);
  refuseToReplaceNewer(RENEWAL_SETTINGS_FORMAT, paths.renewal);
  await atomicWrite(paths.renewal, text, { mode: PRIVATE });
}

export interface LineageListing {
  certName: string;
  dir: string;
  lineage?: Lineage;
  /** Why `lineage` is absent. */
  error?: LocalError;
}

/** The names of every certificate directory, sorted, without reading any of them. */
export async function listCertificateNames(configDir: string): Promise<CertificateDirectory[]> {
  const root = certificatesDir(configDir);
  const names: CertificateDirectory[] = [];
  for (const dirName of await subdirectoryNames(root)) {
    const certName = certNameFromDirName(dirName);
    if (certName !== undefined) names.push({ certName, dir: childPath(root, dirName) });
  }
  return names;
}

export interface CertificateDirectory {
  certName: string;
  /** Its directory: lineagePathsIn(dir) is lineagePaths(configDir, certName) without validating the name again. */
  dir: string;
}

/** Every certificate; unreadable ones are listed with their error instead of failing the list. */
export async function listLineages(configDir: string): Promise<LineageListing[]> {
  const listings: LineageListing[] = [];
  for (const { certName, dir } of await listCertificateNames(configDir)) {
    try {
      const lineage = await readLineage(configDir, certName);
      if (lineage !== undefined) listings.push({ certName, dir, lineage });
    } catch (error) {
      listings.push({
        certName,
        dir,
        error: error instanceof LocalError ? error : localErrorFor('read', dir, error),
      });
    }
  }
  return listings;
}

/**
 * Removes a certificate with all its versions. The directory is first renamed to a hidden name so
 * readers never see half of it. Returns false when it did not exist.
 */
export async function deleteLineage(configDir: string, certName: string): Promise<boolean> {
  const paths = lineagePaths(configDir, certName);
  const doomed = join(certificatesDir(configDir), `.deleting-${process.pid}-${randomBytes(4).toString('hex')}`);
  let target = doomed;
  try {
    await rename(paths.dir, doomed);
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT') return false;
    // Windows refuses to rename a directory with open files; delete in place instead.
    if (code !== 'EPERM' && code !== 'EACCES' && code !== 'EBUSY') throw localErrorFor('remove', paths.dir, error);
    target = paths.dir;
  }
  try {
    await rm(target, { recursive: true, force: true, maxRetries: 3 });
  } catch (error) {
    throw localErrorFor('remove', target, error);
  }
  return true;
}

export interface ExtraFileTargets {
  certFile?: string;
  keyFile?: string;
  chainFile?: string;
  fullchainFile?: string;
}

const EXTRA_FILE_OPTIONS = [
  ['keyFile', '--key-file'],
  ['certFile', '--cert-file'],
  ['chainFile', '--chain-file'],
  ['fullchainFile', '--fullchain-file'],
] as const;

/**
 * Run before the order: LocalError when another user can change the path to a copy's directory
 * (trust.ts, assertOutputDirectory), so no certificate is issued only to be refused there.
 */
export function checkExtraFileTargets(targets: ExtraFileTargets): void {
  for (const [key, option] of EXTRA_FILE_OPTIONS) {
    const path = targets[key];
    if (path !== undefined) assertOutputDirectory(path, option);
  }
}

/**
 * Atomic copies where a web server wants them (`--cert-file` etc.), key first, the key 0600.
 * Parent directories must exist: they belong to the web server's configuration, not to acmecli.
 * Returns the paths written.
 */
export async function copyExtraFiles(targets: ExtraFileTargets, files: CertificateFiles): Promise<string[]> {
  const plan: Array<[string | undefined, CertificateFileKind]> = [
    [targets.keyFile, 'privkey'],
    [targets.certFile, 'cert'],
    [targets.chainFile, 'chain'],
    [targets.fullchainFile, 'fullchain'],
  ];
  const written: string[] = [];
  for (const [path, kind] of plan) {
    if (path === undefined) continue;
    await atomicWrite(path, files[kind], { mode: kind === 'privkey' ? PRIVATE : PUBLIC });
    written.push(path);
  }
  return written;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

async function completeVersions(paths: LineagePaths): Promise<number[]> {
  const result: number[] = [];
  for (const n of await numberedDirs(paths.archive)) {
    if (await isComplete(join(paths.archive, String(n)))) result.push(n);
  }
  return result;
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  const path = childPath(dir, MANIFEST_FILE);
  const text = readTrustedFile(path);
  return text === undefined ? undefined : parseStored(MANIFEST_FORMAT, text, path);
}

async function readCurrentMarker(paths: LineagePaths): Promise<number | undefined> {
  const text = readTrustedFile(paths.current);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new LocalError(
      `${paths.current}: expected a version number, found ${JSON.stringify(text.trim().slice(0, 20))}`,
    );
  }
  return value;
}

// The read helpers are synchronous underneath: these are small files, and `renew` reads a dozen
// per certificate; an async read costs ten times a sync one in thread-pool round trips.
async function numberedDirs(dir: string): Promise<number[]> {
  try {
    return versionNumbers(readdirSync(dir, { withFileTypes: true }));
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return [];
    throw localErrorFor('read directory', dir, error);
  }
}

/** Version numbers among directory entries, ascending; a symlink is never a version. */
function versionNumbers(entries: readonly Dirent[]): number[] {
  return entries
    .filter((e) => e.isDirectory() && /^[1-9][0-9]*$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/**
 * For pruning and listing: a version whose manifest is unreadable counts as incomplete. One a
 * newer acmecli wrote is refused (NewerFormatError): pruning would remove it as incomplete.
 */
async function isComplete(dir: string): Promise<boolean> {
  try {
    return (await readManifest(dir)) !== undefined;
  } catch (error) {
    if (error instanceof NewerFormatError) throw error;
    return false;
  }
}
