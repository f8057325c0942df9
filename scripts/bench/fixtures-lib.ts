/**
 * Many certificates on disk for the "renew when nothing is due" workload, without issuing each one:
 * one real certificate per client (issued from Pebble by the client itself) is copied N times
 * under other names, in each client's own on-disk format.
 *
 * - acmecli: the lineage protocol of src/store/certificate-store.ts — archive/1/ with the four PEM
 *   files, renewal.json (identifiers rewritten to the copy's name) and manifest.json (SHA-256 of
 *   each, renewal.json's recomputed), then the live files, the live renewal.json and `current`.
 *   The account directory is copied too (renew loads it). Every copy is read back with the
 *   store's own listLineages(), so an invalid copy fails here, not in the benchmark.
 * - certbot: renewal/<name>.conf (every path rewritten), archive/<name>/{cert,chain,fullchain,
 *   privkey}1.pem and live/<name>/*.pem symlinks into the archive, as certbot itself lays them out;
 *   the accounts/ directory is copied.
 * - lego: certificates/<name>.{crt,key,issuer.crt,json} (lego renew does not compare the
 *   certificate's names with -d unless --force-cert-domains); accounts/ copied.
 * - uacme: refuses a certificate whose names differ from the identifiers it is asked for (it then
 *   reissues), so each copy is a certificate for its own name: self-signed with the real
 *   certificate's key, with the real certificate's validity period. uacme checks only names and
 *   expiry before deciding (and OCSP, switched off with -o: Pebble has no responder), so this is
 *   as good as a CA-issued one for the measurement.
 *
 * Copies are plain writes (no fsync): this is test data.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { cp, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listLineages, readLineage, sha256, FILE_NAMES, LIVE_WRITE_ORDER } from '../../src/store/certificate-store.js';
import { accountsDir, lineagePaths, MANIFEST_FILE, RENEWAL_FILE, CURRENT_FILE } from '../../src/store/layout.js';
import { parseRenewalSettings, serializeRenewalSettings } from '../../src/store/settings.js';
import { signingKeysFor, x509 } from '../../test/helpers/x509.js';
import { encodePem } from '../../src/crypto/pem.js';

/** `bench-00001.<suffix>` … : stable, sortable, valid DNS names and certificate names. */
export function fixtureNames(count: number, suffix = 'renew.bench.test'): string[] {
  const width = Math.max(5, String(count).length);
  return Array.from({ length: count }, (_, i) => `bench-${String(i + 1).padStart(width, '0')}.${suffix}`);
}

/** Runs `fn` over items with at most `limit` in flight (file copies: keep the fd count sane). */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

// ---------------------------------------------------------------------------------------------
// acmecli

export interface AcmecliFixtureResult {
  configDir: string;
  names: string[];
}

/**
 * Copies lineage `sourceCertName` of `sourceConfigDir` as `names` into `targetConfigDir` (created;
 * the accounts are copied along), then checks every copy with the store's reader.
 */
export async function makeAcmecliLineages(
  sourceConfigDir: string,
  sourceCertName: string,
  targetConfigDir: string,
  names: readonly string[],
): Promise<AcmecliFixtureResult> {
  const source = await readLineage(sourceConfigDir, sourceCertName);
  if (!source) throw new Error(`no acmecli certificate "${sourceCertName}" in ${sourceConfigDir}`);
  await mkdir(targetConfigDir, { recursive: true, mode: 0o700 });
  await cp(accountsDir(sourceConfigDir), accountsDir(targetConfigDir), { recursive: true, preserveTimestamps: true });

  await forEachLimited(names, 32, async (name) => {
    const settings = { ...source.settings, identifiers: [{ type: 'dns' as const, value: name }] };
    const settingsText = serializeRenewalSettings(settings);
    // Round-trip through the parser: a copy the store would reject fails here.
    parseRenewalSettings(settingsText, `fixture ${name}`);
    const paths = lineagePaths(targetConfigDir, name);
    const versionDir = join(paths.archive, '1');
    await mkdir(versionDir, { recursive: true, mode: 0o700 });
    const hashes: Record<string, string> = {};
    for (const kind of LIVE_WRITE_ORDER) {
      const mode = kind === 'privkey' ? 0o600 : 0o644;
      await writeFile(join(versionDir, FILE_NAMES[kind]), source.files[kind], { mode });
      hashes[FILE_NAMES[kind]] = sha256(source.files[kind]);
    }
    await writeFile(join(versionDir, RENEWAL_FILE), settingsText, { mode: 0o600 });
    hashes[RENEWAL_FILE] = sha256(settingsText);
    const manifest = { version: 1, number: 1, createdAt: new Date().toISOString(), files: hashes };
    await writeFile(join(versionDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
    for (const kind of LIVE_WRITE_ORDER) {
      await writeFile(paths[kind], source.files[kind], { mode: kind === 'privkey' ? 0o600 : 0o644 });
    }
    await writeFile(paths.renewal, settingsText, { mode: 0o600 });
    await writeFile(join(paths.dir, CURRENT_FILE), '1\n', { mode: 0o644 });
  });

  const listed = await listLineages(targetConfigDir);
  const bad = listed.filter((l) => l.error);
  if (bad.length > 0 || listed.length !== names.length) {
    throw new Error(
      `acmecli fixture in ${targetConfigDir}: ${listed.length} lineages read back (expected ${names.length})` +
        (bad.length ? `; first error: ${bad[0]?.certName}: ${bad[0]?.error?.message}` : ''),
    );
  }
  return { configDir: targetConfigDir, names: [...names] };
}

// ---------------------------------------------------------------------------------------------
// certbot

/** Copies certbot lineage `sourceName` of config dir `source` as `names` into config dir `target`. */
export async function makeCertbotLineages(
  source: string,
  sourceName: string,
  target: string,
  names: readonly string[],
): Promise<void> {
  const conf = await readFile(join(source, 'renewal', `${sourceName}.conf`), 'utf8');
  const version = /^archive_dir\s*=/m.test(conf) ? undefined : 'missing archive_dir';
  if (version) throw new Error(`certbot renewal conf of ${sourceName}: ${version}`);
  const archiveFiles = await readdir(join(source, 'archive', sourceName));
  const liveLinks = ['cert', 'chain', 'fullchain', 'privkey'];
  for (const link of liveLinks) {
    if (!archiveFiles.includes(`${link}1.pem`)) throw new Error(`certbot archive of ${sourceName} has no ${link}1.pem`);
  }
  for (const dir of ['renewal', 'archive', 'live']) await mkdir(join(target, dir), { recursive: true, mode: 0o755 });
  await cp(join(source, 'accounts'), join(target, 'accounts'), { recursive: true, preserveTimestamps: true });
  const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await forEachLimited(names, 32, async (name) => {
    const text = conf
      .replace(new RegExp(`${escaped(join(source, 'archive', sourceName))}\\b`, 'g'), join(target, 'archive', name))
      .replace(new RegExp(`${escaped(join(source, 'live', sourceName))}/`, 'g'), `${join(target, 'live', name)}/`)
      .replace(new RegExp(escaped(source), 'g'), target);
    await cp(join(source, 'archive', sourceName), join(target, 'archive', name), {
      recursive: true,
      preserveTimestamps: true,
    });
    await mkdir(join(target, 'live', name), { mode: 0o755 });
    for (const link of liveLinks) {
      await symlink(join('..', '..', 'archive', name, `${link}1.pem`), join(target, 'live', name, `${link}.pem`));
    }
    await writeFile(join(target, 'renewal', `${name}.conf`), text, { mode: 0o644 });
  });
}

// ---------------------------------------------------------------------------------------------
// lego

/** Copies lego certificate `sourceDomain` of lego path `source` as `names` into lego path `target`. */
export async function makeLegoCertificates(
  source: string,
  sourceDomain: string,
  target: string,
  names: readonly string[],
): Promise<void> {
  const dir = join(source, 'certificates');
  const files = {
    crt: await readFile(join(dir, `${sourceDomain}.crt`), 'utf8'),
    key: await readFile(join(dir, `${sourceDomain}.key`), 'utf8'),
    issuer: await readFile(join(dir, `${sourceDomain}.issuer.crt`), 'utf8'),
    json: JSON.parse(await readFile(join(dir, `${sourceDomain}.json`), 'utf8')) as Record<string, unknown>,
  };
  await cp(join(source, 'accounts'), join(target, 'accounts'), { recursive: true, preserveTimestamps: true });
  const out = join(target, 'certificates');
  await mkdir(out, { recursive: true, mode: 0o700 });
  await forEachLimited(names, 32, async (name) => {
    await writeFile(join(out, `${name}.crt`), files.crt, { mode: 0o600 });
    await writeFile(join(out, `${name}.key`), files.key, { mode: 0o600 });
    await writeFile(join(out, `${name}.issuer.crt`), files.issuer, { mode: 0o600 });
    await writeFile(join(out, `${name}.json`), `${JSON.stringify({ ...files.json, domain: name }, null, '\t')}`, {
      mode: 0o600,
    });
  });
}

// ---------------------------------------------------------------------------------------------
// uacme

/**
 * uacme's layout for `names` under `target`: private/key.pem (the account key, copied),
 * private/<name>/key.pem (the real certificate's key) and <name>/cert.pem (a certificate for
 * <name> on that key, self-signed, valid over the real certificate's period).
 */
export async function makeUacmeCertificates(
  source: string,
  sourceIdent: string,
  target: string,
  names: readonly string[],
): Promise<void> {
  const realCert = new X509Certificate(await readFile(join(source, sourceIdent, 'cert.pem')));
  const keyPem = await readFile(join(source, 'private', sourceIdent, 'key.pem'), 'utf8');
  const { keys, signingAlgorithm } = signingKeysFor(createPrivateKey(keyPem));
  await mkdir(join(target, 'private'), { recursive: true, mode: 0o700 });
  await cp(join(source, 'private', 'key.pem'), join(target, 'private', 'key.pem'));
  const notBefore = new Date(realCert.validFrom);
  const notAfter = new Date(realCert.validTo);
  let serial = 1;
  await forEachLimited(names, 16, async (name) => {
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: (serial++).toString(16).padStart(2, '0'),
      name: new x509.Name([{ CN: [{ utf8String: name }] }]),
      notBefore,
      notAfter,
      keys,
      signingAlgorithm,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }])],
    });
    await mkdir(join(target, 'private', name), { recursive: true, mode: 0o700 });
    await writeFile(join(target, 'private', name, 'key.pem'), keyPem, { mode: 0o600 });
    await mkdir(join(target, name), { recursive: true, mode: 0o755 });
    await writeFile(join(target, name, 'cert.pem'), encodePem('CERTIFICATE', new Uint8Array(certificate.rawData)), {
      mode: 0o644,
    });
  });
}
