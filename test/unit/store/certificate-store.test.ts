import { readFile, readdir, readlink, stat, writeFile, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalError } from '../../../src/errors.js';
import {
  LIVE_WRITE_ORDER,
  copyExtraFiles,
  deleteLineage,
  installLiveFile,
  listCertificateNames,
  listLineages,
  readLineage,
  readLineageSummary,
  repairLineage,
  sha256,
  writeArchiveVersion,
  writeLineage,
  writeRenewalSettings,
  type CertificateFiles,
} from '../../../src/store/certificate-store.js';
import { lineagePaths } from '../../../src/store/layout.js';
import { serializeRenewalSettings } from '../../../src/store/settings.js';
import { SAMPLE_SETTINGS, certificateFiles, fakeMatches } from './fixtures.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs();
const NAME = 'example.com';
const posix = process.platform !== 'win32';

async function liveFiles(config: string, certName = NAME): Promise<CertificateFiles> {
  const paths = lineagePaths(config, certName);
  return {
    cert: await readFile(paths.cert, 'utf8'),
    chain: await readFile(paths.chain, 'utf8'),
    fullchain: await readFile(paths.fullchain, 'utf8'),
    privkey: await readFile(paths.privkey, 'utf8'),
  };
}

async function current(config: string): Promise<string> {
  return (await readFile(lineagePaths(config, NAME).current, 'utf8')).trim();
}

describe('writeLineage / readLineage', () => {
  it.runIf(posix)('links the live files through one `live` symlink, switched by a single rename', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    const paths = lineagePaths(config, NAME);
    expect(await readlink(join(paths.dir, 'live'))).toBe(join('archive', '1'));
    for (const file of ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']) {
      expect(await readlink(join(paths.dir, file))).toBe(join('live', file));
    }
    await writeLineage(config, NAME, certificateFiles(2), SAMPLE_SETTINGS);
    expect(await readlink(join(paths.dir, 'live'))).toBe(join('archive', '2'));
    expect(await liveFiles(config)).toEqual(certificateFiles(2));
    expect((await readdir(paths.dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('writes the live set, an archive version and the marker; reads them back', async () => {
    const config = await tempDir();
    const result = await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    expect(result.version).toBe(1);
    expect(await liveFiles(config)).toEqual(certificateFiles(1));
    expect(await current(config)).toBe('1');
    const paths = lineagePaths(config, NAME);
    expect((await readdir(paths.dir)).sort()).toEqual([
      'archive',
      'cert.pem',
      'chain.pem',
      'current',
      'fullchain.pem',
      ...(posix ? ['live'] : []),
      'privkey.pem',
      'renewal.json',
    ]);
    expect((await readdir(join(paths.archive, '1'))).sort()).toEqual([
      'cert.pem',
      'chain.pem',
      'fullchain.pem',
      'manifest.json',
      'privkey.pem',
      'renewal.json',
    ]);
    if (posix) {
      expect((await stat(paths.privkey)).mode & 0o777).toBe(0o600);
      expect((await stat(join(paths.archive, '1', 'privkey.pem'))).mode & 0o777).toBe(0o600);
      expect((await stat(paths.cert)).mode & 0o777).toBe(0o644);
      expect((await stat(paths.dir)).mode & 0o777).toBe(0o700);
      expect((await stat(paths.archive)).mode & 0o777).toBe(0o700);
    }
    const lineage = await readLineage(config, NAME);
    expect(lineage).toMatchObject({
      certName: NAME,
      version: 1,
      files: certificateFiles(1),
      settings: SAMPLE_SETTINGS,
      versions: [1],
    });
  });

  it('uses the wildcard directory name and lists it under the name the user gave', async () => {
    const config = await tempDir();
    await writeLineage(config, '*.example.com', certificateFiles(1), SAMPLE_SETTINGS);
    await writeLineage(config, 'example.com', certificateFiles(2), SAMPLE_SETTINGS);
    expect(await readdir(join(config, 'certificates'))).toEqual(['_wildcard.example.com', 'example.com'].sort());
    const listed = await listLineages(config);
    expect(listed.map((l) => [l.certName, l.lineage?.version])).toEqual([
      ['*.example.com', 1],
      ['example.com', 1],
    ]);
  });

  it('returns undefined for an unknown certificate', async () => {
    const config = await tempDir();
    expect(await readLineage(config, NAME)).toBeUndefined();
    expect(await listLineages(config)).toEqual([]);
  });

  it('keeps at most `keep` archive versions, newest first', async () => {
    const config = await tempDir();
    const pruned: number[][] = [];
    for (let v = 1; v <= 7; v++) {
      pruned.push((await writeLineage(config, NAME, certificateFiles(v), SAMPLE_SETTINGS, { keep: 3 })).pruned);
    }
    expect(pruned).toEqual([[], [], [], [1], [2], [3], [4]]);
    expect((await readdir(lineagePaths(config, NAME).archive)).sort()).toEqual(['5', '6', '7']);
    expect((await readLineage(config, NAME))?.versions).toEqual([5, 6, 7]);
    expect(await liveFiles(config)).toEqual(certificateFiles(7));
  });

  it('defaults to keeping five versions', async () => {
    const config = await tempDir();
    for (let v = 1; v <= 6; v++) await writeLineage(config, NAME, certificateFiles(v), SAMPLE_SETTINGS);
    expect((await readLineage(config, NAME))?.versions).toEqual([2, 3, 4, 5, 6]);
  });

  it('reads the committed version while a swap is half done (reader protocol)', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    await writeArchiveVersion(config, NAME, certificateFiles(2), serializeRenewalSettings(SAMPLE_SETTINGS));
    await installLiveFile(config, NAME, 'privkey', certificateFiles(2).privkey);
    const lineage = await readLineage(config, NAME);
    expect(lineage?.version).toBe(1);
    expect(lineage?.files).toEqual(certificateFiles(1));
  });

  it('refuses archive files that do not match their manifest', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    const path = join(lineagePaths(config, NAME).archive, '1', 'cert.pem');
    await writeFile(path, 'tampered');
    await expect(readLineage(config, NAME)).rejects.toThrow(`${path}: content does not match`);
    const [listing] = await listLineages(config);
    expect(listing?.error).toBeInstanceOf(LocalError);
  });

  it('names the file and field of a damaged renewal.json', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    const path = lineagePaths(config, NAME).renewal;
    await writeFile(path, JSON.stringify({ ...SAMPLE_SETTINGS, reuseKey: 'no' }));
    await expect(readLineage(config, NAME)).rejects.toThrow(`${path}: field "reuseKey" must be true or false`);
  });

  it('updates settings without touching the certificate files', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    await writeRenewalSettings(config, NAME, { ...SAMPLE_SETTINGS, reloadCommand: 'rc-service nginx reload' });
    const lineage = await readLineage(config, NAME);
    expect(lineage?.settings.reloadCommand).toBe('rc-service nginx reload');
    expect((await repairLineage(config, NAME, { matches: fakeMatches })).action).toBe('none');
    expect((await readLineage(config, NAME))?.settings.reloadCommand).toBe('rc-service nginx reload');
    await expect(writeRenewalSettings(config, 'other.example', SAMPLE_SETTINGS)).rejects.toThrow(LocalError);
  });
});

describe('readLineageSummary', () => {
  it('gives the live settings and names the committed certificate by its manifest hash', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    await writeLineage(config, NAME, certificateFiles(2), { ...SAMPLE_SETTINGS, reloadCommand: 'true' });
    await writeRenewalSettings(config, NAME, { ...SAMPLE_SETTINGS, reloadCommand: 'rc-service nginx reload' });
    const summary = await readLineageSummary(config, NAME);
    expect(summary).toMatchObject({
      certName: NAME,
      version: 2,
      settings: { ...SAMPLE_SETTINGS, reloadCommand: 'rc-service nginx reload' },
      paths: lineagePaths(config, NAME),
      certificateSha256: sha256(certificateFiles(2).cert),
    });
    expect(await summary?.readCertificate()).toBe(certificateFiles(2).cert);
  });

  it('checks only the certificate against the manifest: readLineage still refuses the other files', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    const version = join(lineagePaths(config, NAME).archive, '1');
    await writeFile(join(version, 'chain.pem'), 'tampered');
    const summary = await readLineageSummary(config, NAME);
    expect(summary?.certificateSha256).toBe(sha256(certificateFiles(1).cert));
    await expect(readLineage(config, NAME)).rejects.toThrow(`${join(version, 'chain.pem')}: content does not match`);

    await writeFile(join(version, 'cert.pem'), 'tampered');
    const tampered = await readLineageSummary(config, NAME);
    await expect(tampered?.readCertificate()).rejects.toThrow(`${join(version, 'cert.pem')}: content does not match`);
  });

  it("is readLineage's answer when the lineage is out of the ordinary", async () => {
    const config = await tempDir();
    expect(await readLineageSummary(config, NAME)).toBeUndefined();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    const paths = lineagePaths(config, NAME);
    // No live renewal.json: the archived one.
    await unlink(paths.renewal);
    expect((await readLineageSummary(config, NAME))?.settings).toEqual(SAMPLE_SETTINGS);
    // No `current` (first swap interrupted): the newest complete version.
    await unlink(paths.current);
    const summary = await readLineageSummary(config, NAME);
    expect(summary).toMatchObject({ version: 1, certificateSha256: sha256(certificateFiles(1).cert) });
    expect(await summary?.readCertificate()).toBe(certificateFiles(1).cert);
    await writeFile(join(paths.archive, '1', 'privkey.pem'), 'tampered');
    await expect(readLineageSummary(config, NAME)).rejects.toThrow('content does not match');
  });

  it('reads the committed certificate when its version was pruned after the summary', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    const summary = await readLineageSummary(config, NAME);
    await writeLineage(config, NAME, certificateFiles(2), SAMPLE_SETTINGS, { keep: 1 });
    expect(await readdir(lineagePaths(config, NAME).archive)).toEqual(['2']);
    expect(await summary?.readCertificate()).toBe(certificateFiles(2).cert);
  });
});

describe('listCertificateNames', () => {
  it('lists the names the user gave, sorted, without reading the lineages', async () => {
    const config = await tempDir();
    await writeLineage(config, 'example.com', certificateFiles(1), SAMPLE_SETTINGS);
    await writeLineage(config, '*.example.com', certificateFiles(1), SAMPLE_SETTINGS);
    await writeFile(join(lineagePaths(config, 'example.com').archive, '1', 'cert.pem'), 'tampered');
    await mkdir(join(config, 'certificates', '.deleting-1-abcd'));
    await mkdir(join(config, 'certificates', 'not a cert name'));
    expect(await listCertificateNames(config)).toEqual([
      { certName: '*.example.com', dir: lineagePaths(config, '*.example.com').dir },
      { certName: 'example.com', dir: lineagePaths(config, 'example.com').dir },
    ]);
  });

  it('lists nothing when there is no certificates directory', async () => {
    expect(await listCertificateNames(await tempDir())).toEqual([]);
  });
});

describe('repairLineage', () => {
  async function crashAfter(config: string, installed: number): Promise<void> {
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    await writeArchiveVersion(config, NAME, certificateFiles(2), serializeRenewalSettings(SAMPLE_SETTINGS));
    for (const kind of LIVE_WRITE_ORDER.slice(0, installed)) {
      await installLiveFile(config, NAME, kind, certificateFiles(2)[kind]);
    }
  }

  it('restores a half-swapped set (crash between renames) from the last complete version', async () => {
    const config = await tempDir();
    await crashAfter(config, 2); // new privkey and cert, old chain and fullchain
    expect(fakeMatches((await liveFiles(config)).cert, (await liveFiles(config)).privkey)).toBe(true);
    expect((await liveFiles(config)).chain).toBe(certificateFiles(1).chain);
    const result = await repairLineage(config, NAME, { matches: fakeMatches });
    expect(result).toMatchObject({ action: 'restored', version: 2 });
    expect(await liveFiles(config)).toEqual(certificateFiles(2));
    expect(await current(config)).toBe('2');
    expect((await repairLineage(config, NAME, { matches: fakeMatches })).action).toBe('none');
  });

  it('restores when only the key was swapped (key and certificate disagree)', async () => {
    const config = await tempDir();
    await crashAfter(config, 1);
    const live = await liveFiles(config);
    expect(fakeMatches(live.cert, live.privkey)).toBe(false);
    expect((await repairLineage(config, NAME)).action).toBe('restored');
    expect(await liveFiles(config)).toEqual(certificateFiles(2));
  });

  it('rolls forward when the new version was archived but nothing was swapped yet', async () => {
    const config = await tempDir();
    await crashAfter(config, 0);
    expect(await repairLineage(config, NAME)).toMatchObject({ action: 'restored', version: 2 });
    expect(await liveFiles(config)).toEqual(certificateFiles(2));
    expect(await current(config)).toBe('2');
  });

  it('only writes the marker when every live file was already swapped', async () => {
    const config = await tempDir();
    await crashAfter(config, 4);
    expect(await current(config)).toBe('1');
    expect(await repairLineage(config, NAME)).toMatchObject({ action: 'completed', version: 2 });
    expect(await current(config)).toBe('2');
  });

  it('ignores and removes an archive version whose write was interrupted before its manifest', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    const partial = join(lineagePaths(config, NAME).archive, '2');
    await mkdir(partial);
    await writeFile(join(partial, 'privkey.pem'), certificateFiles(2).privkey);
    const result = await repairLineage(config, NAME);
    expect(result.action).toBe('none');
    expect(result.removed).toEqual([partial]);
    expect(await readdir(lineagePaths(config, NAME).archive)).toEqual(['1']);
    // The next write still gets a fresh number.
    expect((await writeLineage(config, NAME, certificateFiles(3), SAMPLE_SETTINGS)).version).toBe(2);
  });

  it('finishes an interrupted first issuance and cleans up temp files of dead writers', async () => {
    const config = await tempDir();
    await writeArchiveVersion(config, NAME, certificateFiles(1), serializeRenewalSettings(SAMPLE_SETTINGS));
    await installLiveFile(config, NAME, 'privkey', certificateFiles(1).privkey);
    const stale = join(lineagePaths(config, NAME).dir, '.cert.pem.tmp-999999999-abcdef');
    await writeFile(stale, 'partial');
    expect((await readLineage(config, NAME))?.version).toBe(1);
    const result = await repairLineage(config, NAME);
    expect(result.action).toBe('restored');
    expect(result.removed).toContain(stale);
    expect(await liveFiles(config)).toEqual(certificateFiles(1));
  });

  it('leaves hand-installed live files alone when key and certificate belong together', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    for (const kind of LIVE_WRITE_ORDER) await installLiveFile(config, NAME, kind, certificateFiles(9)[kind]);
    expect((await repairLineage(config, NAME, { matches: fakeMatches })).action).toBe('left-modified');
    expect((await repairLineage(config, NAME)).action).toBe('left-modified');
    expect(await liveFiles(config)).toEqual(certificateFiles(9));
  });

  it('restores unknown live files when key and certificate do not belong together', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    await installLiveFile(config, NAME, 'cert', 'garbage');
    expect((await repairLineage(config, NAME, { matches: fakeMatches })).action).toBe('restored');
    expect(await liveFiles(config)).toEqual(certificateFiles(1));
  });

  it('reports when there is nothing to restore from', async () => {
    const config = await tempDir();
    expect((await repairLineage(config, NAME)).action).toBe('no-version');
  });
});

describe('deleteLineage', () => {
  it('removes every version and reports whether anything existed', async () => {
    const config = await tempDir();
    await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
    await writeLineage(config, 'other.example', certificateFiles(1), SAMPLE_SETTINGS);
    expect(await deleteLineage(config, NAME)).toBe(true);
    expect(await deleteLineage(config, NAME)).toBe(false);
    expect(await readdir(join(config, 'certificates'))).toEqual(['other.example']);
  });
});

describe('copyExtraFiles', () => {
  it('writes the requested copies atomically, the key 0600', async () => {
    const dir = await tempDir();
    const targets = { keyFile: join(dir, 'site.key'), fullchainFile: join(dir, 'site.crt') };
    expect(await copyExtraFiles(targets, certificateFiles(1))).toEqual([targets.keyFile, targets.fullchainFile]);
    expect(await readFile(targets.fullchainFile, 'utf8')).toBe(certificateFiles(1).fullchain);
    expect(await readFile(targets.keyFile, 'utf8')).toBe(certificateFiles(1).privkey);
    if (posix) expect((await stat(targets.keyFile)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['site.crt', 'site.key']);
  });

  it('does not create the web server directories', async () => {
    const dir = await tempDir();
    await expect(copyExtraFiles({ certFile: join(dir, 'missing', 'c.pem') }, certificateFiles(1))).rejects.toThrow(
      `cannot write ${join(dir, 'missing', 'c.pem')}: no such file or directory (ENOENT)`,
    );
  });
});

it('removes nothing the protocol needs when the marker is missing but a complete version exists', async () => {
  const config = await tempDir();
  await writeLineage(config, NAME, certificateFiles(1), SAMPLE_SETTINGS);
  await unlink(lineagePaths(config, NAME).current);
  expect(await repairLineage(config, NAME)).toMatchObject({ action: 'completed', version: 1 });
});
