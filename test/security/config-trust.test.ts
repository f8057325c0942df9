/**
 * Issue 12 §3: the config directory is a trust boundary. acmecli run as root refuses to read
 * settings, renewal files (and the reload commands they hold), account files and keys from a file
 * or directory that another user owns or can write (OpenSSH's StrictModes), naming the path and the
 * chmod/chown that fixes it; stored JSON is validated on read as strictly as the command line; a
 * config file is read only up to a size cap.
 *
 * The attacker is the real unprivileged user `nobody` (setpriv), the CLI the built one, the CA
 * Pebble, except where only a hostile CA can say something (the fake CA, named so).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE_PATH, runCli, type CliResult } from '../helpers/cli.js';
import { describeRun, startE2eCa, type E2eCa } from '../helpers/e2e.js';
import { startFakeCa, type FakeCa } from '../helpers/fake-ca.js';

const NOBODY = 65534;
const NOGROUP = 65534;
const CERT = 'trust.example.test';

let ca: E2eCa;
/** Parent of every config dir here: 0755, so that `nobody` can reach into the ones it should. */
let root: string;
/** A config dir with an account and one issued (not due) certificate, copied for each case. */
let template: string;

beforeAll(async () => {
  ca = await startE2eCa();
  root = await mkdtemp(join(tmpdir(), 'acmecli-trust-'));
  await chmod(root, 0o755);
  template = await ca.newConfigDir();
  const issued = await ca.run(template, [
    'issue',
    '--agree-tos',
    '-d',
    CERT,
    '--standalone',
    '--http-port',
    String(ca.pebble.httpPort),
  ]);
  expect(issued.exitCode, describeRun(issued)).toBe(0);
}, 60_000);

afterAll(async () => {
  await ca?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Runs a command as the unprivileged user nobody:nogroup, no supplementary groups. */
function asNobody(file: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', file, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let counter = 0;
/** A fresh config dir under `parent` (root-owned, 0700), optionally a copy of the template. */
async function configDir(options: { copy?: boolean; parent?: string } = {}): Promise<string> {
  const dir = join(options.parent ?? root, `cfg-${++counter}`);
  await mkdir(dir, { mode: 0o700 });
  if (options.copy !== false) await cp(template, dir, { recursive: true });
  return dir;
}

const lineage = (dir: string, ...parts: string[]) => join(dir, 'certificates', CERT, ...parts);

function expectRefused(result: CliResult, message: string | RegExp, hint?: string): void {
  expect(result.exitCode, describeRun(result)).toBe(6);
  if (typeof message === 'string') expect(result.stderr).toContain(message);
  else expect(result.stderr).toMatch(message);
  if (hint !== undefined) expect(result.stderr).toContain(`hint: ${hint}`);
  expect(result.stderr).not.toMatch(/\n\s+at |TypeError|unexpected error/);
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

describe('files and directories another user owns or can write (root run)', () => {
  it('a lineage nobody planted in a 0777 config dir: plain renew refuses (exit 6, path, chmod) and runs no reload command', async () => {
    const dir = await configDir({ copy: false });
    await cp(join(template, 'accounts'), join(dir, 'accounts'), { recursive: true });
    await chmod(dir, 0o777);
    const marker = join(root, `planted-reload-ran-${counter}`);

    // nobody's lineage: the real certificate files (so nothing is due), a renewal.json whose
    // reload command would leave a marker, and a manifest that makes it a complete version.
    const staging = join(root, `staging-${counter}`);
    const version = join(staging, 'planted.example.test', 'archive', '1');
    await mkdir(version, { recursive: true });
    const hashes: Record<string, string> = {};
    for (const name of ['privkey.pem', 'cert.pem', 'chain.pem', 'fullchain.pem']) {
      const text = await readFile(lineage(template, name), 'utf8');
      await writeFile(join(version, name), text);
      hashes[name] = sha256(text);
    }
    const settings = JSON.parse(await readFile(lineage(template, 'renewal.json'), 'utf8')) as Record<string, unknown>;
    const planted = `${JSON.stringify({ ...settings, identifiers: [{ type: 'dns', value: 'planted.example.test' }], reloadCommand: `touch ${marker}` }, null, 2)}\n`;
    await writeFile(join(version, 'renewal.json'), planted);
    hashes['renewal.json'] = sha256(planted);
    await writeFile(
      join(version, 'manifest.json'),
      JSON.stringify({ version: 1, number: 1, createdAt: new Date().toISOString(), files: hashes }),
    );
    execFileSync('chmod', ['-R', 'a+rX', staging]);
    const copied = asNobody('cp', ['-r', staging, join(dir, 'certificates')]);
    expect(copied.status, copied.stderr).toBe(0);
    expect(statSync(join(dir, 'certificates')).uid).toBe(NOBODY);

    const result = await ca.run(dir, ['renew']);
    expect(existsSync(marker), `the planted reload command ran as root\n${describeRun(result)}`).toBe(false);
    expectRefused(result, dir, `chmod go-w ${dir}`);
  });

  it('a renewal.json owned by nobody inside root-owned 0700 directories: refused, names the file and the chown', async () => {
    const dir = await configDir();
    await chown(lineage(dir, 'renewal.json'), NOBODY, NOGROUP);
    const result = await ca.run(dir, ['renew']);
    expectRefused(result, lineage(dir, 'renewal.json'), `chown root ${lineage(dir, 'renewal.json')}`);
  });

  it('an account key owned by nobody: refused', async () => {
    const dir = await configDir();
    const key = (await readdir(join(dir, 'accounts'), { recursive: true })).find((p) =>
      p.endsWith('account.key'),
    ) as string;
    await chown(join(dir, 'accounts', key), NOBODY, NOGROUP);
    const result = await ca.run(dir, ['register', '--agree-tos']);
    expectRefused(result, join(dir, 'accounts', key), `chown root ${join(dir, 'accounts', key)}`);
  });

  it('a group-writable lineage directory (group nogroup): refused with the chmod', async () => {
    const dir = await configDir();
    await chown(lineage(dir), 0, NOGROUP);
    await chmod(lineage(dir), 0o770);
    const result = await ca.run(dir, ['renew']);
    expectRefused(result, lineage(dir), `chmod go-w ${lineage(dir)}`);
  });

  it("a lineage directory group-writable by root's group (gid 0) is accepted", async () => {
    const dir = await configDir();
    await chmod(lineage(dir), 0o770);
    const result = await ca.run(dir, ['renew']);
    expect(result.exitCode, describeRun(result)).toBe(0);
  });

  it('config.ini writable by others: refused before anything is read from it', async () => {
    const dir = await configDir();
    await writeFile(join(dir, 'config.ini'), 'agree-tos\n');
    await chmod(join(dir, 'config.ini'), 0o666);
    const result = await ca.run(dir, ['certificates']);
    expectRefused(result, join(dir, 'config.ini'), `chmod go-w ${join(dir, 'config.ini')}`);
  });

  it('a config dir in a directory others can write (0777, not sticky): refused, naming that directory', async () => {
    const open = join(root, `open-${++counter}`);
    await mkdir(open);
    await chmod(open, 0o777);
    const dir = await configDir({ parent: open });
    const result = await ca.run(dir, ['renew']);
    expectRefused(result, open, `chmod go-w ${open}`);
  });

  it('a config dir under sticky root-owned directories (/tmp, and a 1777 one inside) is accepted', async () => {
    const tmp = statSync(tmpdir());
    expect(tmp.uid).toBe(0);
    expect(tmp.mode & 0o1777).toBe(0o1777);
    const sticky = join(root, `sticky-${++counter}`);
    await mkdir(sticky);
    await chmod(sticky, 0o1777);
    for (const dir of [await ca.newConfigDir(), await configDir({ parent: sticky })]) {
      if (!existsSync(join(dir, 'certificates'))) await cp(template, dir, { recursive: true });
      const result = await ca.run(dir, ['renew']);
      expect(result.exitCode, describeRun(result)).toBe(0);
      expect(result.stderr).toContain(`${CERT}: not due`);
    }
  });
});

describe('a config dir of an ordinary user (nobody runs acmecli)', () => {
  const cli = (dir: string, args: string[]) => asNobody(process.execPath, [BUNDLE_PATH, '--config-dir', dir, ...args]);

  it('its own 0700 config dir (and config.ini) in a root-owned 0755 parent works', async () => {
    const dir = join(root, `user-${++counter}`);
    await mkdir(dir, { mode: 0o700 });
    await writeFile(join(dir, 'config.ini'), 'agree-tos\n', { mode: 0o600 });
    await chown(dir, NOBODY, NOGROUP);
    await chown(join(dir, 'config.ini'), NOBODY, NOGROUP);
    const result = cli(dir, ['certificates']);
    expect(result.status, result.stderr).toBe(0);
  });

  it('its own config dir made writable by others is refused as it is for root', async () => {
    const dir = join(root, `user-${++counter}`);
    await mkdir(dir);
    await chown(dir, NOBODY, NOGROUP);
    await chmod(dir, 0o777);
    await writeFile(join(dir, 'config.ini'), 'agree-tos\n', { mode: 0o644 });
    const result = cli(dir, ['certificates']);
    expect(result.status, result.stderr).toBe(6);
    expect(result.stderr).toContain(`chmod go-w ${dir}`);
  });
});

describe('a 700 MB config.ini (sparse)', () => {
  it('is refused without being read, naming the file and the limit', async () => {
    const dir = await configDir({ copy: false });
    execFileSync('truncate', ['-s', '700M', join(dir, 'config.ini')]);
    const result = await ca.run(dir, ['certificates']);
    expectRefused(result, /config\.ini: .*more than the 1 MiB/);
    expect(result.stderr).toContain(join(dir, 'config.ini'));
  });
});

describe('stored JSON is validated on read: one exit-6 line naming the file and the field', () => {
  const edit =
    (path: (dir: string) => string | Promise<string>, change: (value: Record<string, unknown>) => unknown) =>
    async (dir: string) => {
      const file = await path(dir);
      await writeFile(
        file,
        JSON.stringify(change(JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)),
      );
      return file;
    };
  const renewal = (dir: string) => lineage(dir, 'renewal.json');
  const accountJson = async (dir: string) => {
    const found = (await readdir(join(dir, 'accounts'), { recursive: true })).find((p) => p.endsWith('account.json'));
    return join(dir, 'accounts', found as string);
  };
  type Case = { label: string; break: (dir: string) => Promise<string>; args: string[]; field: string };
  const cases: Case[] = [
    {
      label: 'a name with ";" in renewal.json',
      break: edit(renewal, (s) => ({ ...s, identifiers: [{ type: 'dns', value: `evil;${CERT}` }] })),
      args: ['renew'],
      field: 'identifiers[0].value',
    },
    {
      label: 'a name with a newline in renewal.json',
      break: edit(renewal, (s) => ({ ...s, identifiers: [{ type: 'dns', value: `a.test\nb.test` }] })),
      args: ['renew'],
      field: 'identifiers[0].value',
    },
    {
      label: 'an "ip" identifier that is a name',
      break: edit(renewal, (s) => ({ ...s, identifiers: [{ type: 'ip', value: CERT }] })),
      args: ['renew'],
      field: 'identifiers[0].value',
    },
    {
      label: 'an account name with a path',
      break: edit(renewal, (s) => ({ ...s, account: '../../x' })),
      args: ['renew'],
      field: 'account',
    },
    {
      label: 'a server that is no URL',
      break: edit(renewal, (s) => ({ ...s, server: 'not a url' })),
      args: ['renew'],
      field: 'server',
    },
    {
      label: 'dns01 settings of the wrong type',
      break: edit(renewal, (s) => ({ ...s, dns01: { propagationTimeoutMs: 'soon' } })),
      args: ['renew'],
      field: 'dns01.propagationTimeoutMs',
    },
    {
      label: 'extraFiles.certFile a number',
      break: edit(renewal, (s) => ({ ...s, extraFiles: { certFile: 5 } })),
      args: ['renew'],
      field: 'extraFiles.certFile',
    },
    {
      label: 'a reloadCommand that is a list',
      break: edit(renewal, (s) => ({ ...s, reloadCommand: ['touch', 'x'] })),
      args: ['renew'],
      field: 'reloadCommand',
    },
    {
      label: 'an unknown key type (on renewal)',
      break: edit(renewal, (s) => ({ ...s, keyType: 'dsa' })),
      args: ['renew', '--force'],
      field: 'keyType',
    },
    {
      label: 'an unknown plugin (on renewal)',
      break: edit(renewal, (s) => ({ ...s, plugin: 'nope' })),
      args: ['renew', '--force'],
      field: 'plugin',
    },
    {
      label: 'a plugin setting of the wrong type (on renewal)',
      break: edit(renewal, (s) => ({ ...s, pluginSettings: { standalone: { httpPort: 'eighty' } } })),
      args: ['renew', '--force'],
      field: 'pluginSettings.standalone',
    },
    {
      label: 'account.json with contact [1,2]',
      break: edit(accountJson, (a) => ({ ...a, contact: [1, 2] })),
      args: ['register', '--agree-tos'],
      field: 'contact',
    },
    {
      label: 'account.json with contact an object',
      break: edit(accountJson, (a) => ({ ...a, contact: { mailto: 'x' } })),
      args: ['register', '--agree-tos'],
      field: 'contact',
    },
    {
      label: 'account.json with a url that is no URL',
      break: edit(accountJson, (a) => ({ ...a, url: 'acct' })),
      args: ['register', '--agree-tos'],
      field: 'url',
    },
  ];

  it.each(cases)('$label → exit 6 naming the field', async (testCase) => {
    const dir = await configDir();
    const file = await testCase.break(dir);
    const result = await ca.run(dir, testCase.args);
    expectRefused(result, `${file}: field "${testCase.field}"`);
  });

  it('an ari.json with fields of the wrong type is a cache: named in a warning, then asked again (exit 0)', async () => {
    const dir = await configDir();
    const first = await ca.run(dir, ['renew']);
    expect(first.exitCode, describeRun(first)).toBe(0);
    const ari = lineage(dir, 'ari.json');
    const entry = JSON.parse(await readFile(ari, 'utf8')) as Record<string, unknown>;
    await writeFile(ari, JSON.stringify({ ...entry, window: { start: 1, end: [] }, renewAt: 'soon' }));
    const result = await ca.run(dir, ['renew']);
    expect(result.exitCode, describeRun(result)).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`${ari.replace(/[.]/g, '\\.')}: field "(window\\.start|renewAt)"`));
    expect(result.stderr).toContain(`${CERT}: not due`);
  });
});

describe('account fields a hostile CA sends (fake CA)', () => {
  let fake: FakeCa;
  beforeAll(async () => {
    fake = await startFakeCa();
  });
  afterAll(async () => fake?.stop());

  it.each([
    ['[1,2]', [1, 2]],
    ['an object', { mailto: 'admin@example.test' }],
    ['a string', 'mailto:admin@example.test'],
  ])(
    'a contact of %s is not stored: the account stays readable, with the contact acmecli sent',
    async (_label, contact) => {
      const dir = await configDir({ copy: false });
      fake.options = {
        interceptor: (request, res) => {
          if (request.resource !== 'newAccount') return false;
          res.writeHead(201, {
            'content-type': 'application/json',
            location: `${fake.origin}/acct/hostile-${counter}`,
            'replay-nonce': fake.issueNonce(),
          });
          res.end(JSON.stringify({ status: 'valid', contact }));
          return true;
        },
      };
      const server = ['--config-dir', dir, '--server', fake.directoryUrl];
      const registered = await runCli([...server, 'register', '--agree-tos', '--email', 'admin@example.test']);
      fake.options = {};
      expect(registered.exitCode, describeRun(registered)).toBe(0);
      // A later run reads the account back (register finds it locally; nothing is sent).
      const again = await runCli([...server, '--json', 'register', '--agree-tos']);
      expect(again.exitCode, describeRun(again)).toBe(0);
      expect(JSON.parse(again.stdout).result.contact).toEqual(['mailto:admin@example.test']);
    },
  );
});
