/**
 * Issue 12 §2 and two bullets of §7 against a hostile CA: the scriptable fake (no real CA sends
 * an authorization for a name that was never ordered on demand), with real hooks, a real BIND and
 * the built CLI where the harm would happen.
 *
 * - Nothing the CA sends is trusted as an identifier: an authorization, an order or a certificate
 *   for anything but the ordered names stops the run with exit 3 before any plugin sees it (no
 *   hook, no DNS update), and plugins get acmecli's own spelling of the name, never the CA's text.
 * - An alternate chain the CA links to (http://, unreachable, broken) never aborts an issuance.
 * - A CA fault is exit 3 (the CA's verdict) or 5 (a broken answer), never 2 ("nothing was sent").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AcmeClient } from '../../src/acme/client.js';
import { obtainCertificate, type ObtainResult } from '../../src/acme/obtain.js';
import type { ChallengeTask, Solver, SolverChooser } from '../../src/acme/solver.js';
import type { Identifier } from '../../src/acme/types.js';
import { Transport } from '../../src/acme/transport.js';
import { parseCertificate } from '../../src/crypto/certificate.js';
import { generateKey } from '../../src/crypto/keys.js';
import { AcmecliError } from '../../src/errors.js';
import { startBind, type BindHandle, type TsigKey } from '../helpers/bind.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { describeRun } from '../helpers/e2e.js';
import { startFakeCa, type FakeCa, type FakeCaOptions } from '../helpers/fake-ca.js';
import { freePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/processes.js';
import { snapshotTree } from '../helpers/crash.js';

const scratchDirs: string[] = [];
let fake: FakeCa;

beforeAll(async () => {
  fake = await startFakeCa();
});

afterAll(async () => {
  await fake?.stop();
  await Promise.all(scratchDirs.map(removeTempDir));
});

async function scratchDir(): Promise<string> {
  const dir = await makeTempDir('hostile-ca');
  scratchDirs.push(dir);
  return dir;
}

/** Rewrites the identifier of every authorization the fake sends (and nothing else). */
function authorizationIdentifier(
  identifier: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): FakeCaOptions['rewriteAuthorization'] {
  return (authorization) => ({ ...authorization, identifier, ...extra });
}

const dns = (value: string): Identifier => ({ type: 'dns', value });

// -------------------------------------------------------------------------------------------------
// The protocol core: what reaches a solver, and what the core returns

/** A solver that only records what it was given (the fake CA validates nothing). */
function recordingSolver(): Solver & { tasks: ChallengeTask[] } {
  const tasks: ChallengeTask[] = [];
  return {
    name: 'recorder',
    tasks,
    async present(task) {
      tasks.push(task);
    },
    async cleanUp() {},
  };
}

/** dns-01 for wildcards (the only way), http-01 otherwise. */
function chooseFor(solver: Solver): SolverChooser {
  return (_identifier, wildcard, offered) => {
    if (!wildcard && offered.includes('http-01')) return { solver, type: 'http-01' };
    if (offered.includes('dns-01')) return { solver, type: 'dns-01' };
    return undefined;
  };
}

interface CoreRun {
  solver: ReturnType<typeof recordingSolver>;
  result?: ObtainResult;
  error?: unknown;
}

async function obtainFromFake(
  options: FakeCaOptions,
  names: Identifier[],
  extra: { preAuthorize?: boolean } = {},
): Promise<CoreRun> {
  const ca = await startFakeCa(options);
  const transport = new Transport({ userAgent: 'acmecli-security-test' });
  const solver = recordingSolver();
  try {
    const client = new AcmeClient({ directoryUrl: ca.directoryUrl, accountKey: await generateKey('ec256'), transport });
    await client.newAccount({ termsOfServiceAgreed: true });
    const result = await obtainCertificate(client, {
      identifiers: names,
      certificateKey: await generateKey('ec256'),
      chooseSolver: chooseFor(solver),
      ...extra,
    });
    return { solver, result };
  } catch (error) {
    return { solver, error };
  } finally {
    await transport.close().catch(() => undefined);
    await ca.stop();
  }
}

function expectCaRefusal(run: CoreRun, message: RegExp): void {
  expect(run.result, 'the run must not succeed').toBeUndefined();
  expect(run.error).toBeInstanceOf(AcmecliError);
  expect((run.error as AcmecliError).exitCode, (run.error as Error).message).toBe(3);
  expect((run.error as Error).message).toMatch(message);
  // One line, whatever the CA put in its strings.
  expect((run.error as Error).message).not.toMatch(/[\n\r\u001b]/);
}

const INJECTED = 'mine.example"\nupdate delete example.com A\n\u001b[2J';

describe('fake CA: authorizations and orders for names that were not ordered stop the run before any solver is called', () => {
  interface RefusedCase {
    label: string;
    names: Identifier[];
    options: FakeCaOptions;
    preAuthorize?: boolean;
    message: RegExp;
  }
  const cases: RefusedCase[] = [
    {
      label: 'an authorization for victim.example in an order of mine.example',
      names: [dns('mine.example')],
      options: { rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: 'victim.example' }) },
      message: /authorization .* is for "victim\.example", which was not ordered/,
    },
    {
      label: 'an identifier with quotes, a newline and an escape sequence',
      names: [dns('mine.example')],
      options: { rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: INJECTED }) },
      message: /which was not ordered/,
    },
    {
      label: 'a wildcard flag on an authorization for a plain name',
      names: [dns('mine.example')],
      options: {
        rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: 'mine.example' }, { wildcard: true }),
      },
      message: /is for "\*\.mine\.example", which was not ordered/,
    },
    {
      label: 'no wildcard flag on the authorization of a wildcard',
      names: [dns('*.mine.example')],
      options: { challengeTypes: ['dns-01'], rewriteAuthorization: (a) => ({ ...a, wildcard: undefined }) },
      message: /is for "mine\.example", which was not ordered/,
    },
    {
      label: 'the wildcard written into the identifier value (RFC 8555 §7.1.4 says base name + wildcard: true)',
      names: [dns('*.mine.example')],
      options: {
        challengeTypes: ['dns-01'],
        rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: '*.mine.example' }, { wildcard: true }),
      },
      message: /which was not ordered/,
    },
    {
      label: 'a dns name turned into an ip identifier',
      names: [dns('mine.example')],
      options: { rewriteAuthorization: authorizationIdentifier({ type: 'ip', value: 'mine.example' }) },
      message: /which was not ordered/,
    },
    {
      label: 'another IP address',
      names: [{ type: 'ip', value: '192.0.2.1' }],
      options: { rewriteAuthorization: authorizationIdentifier({ type: 'ip', value: '192.0.2.2' }) },
      message: /is for "192\.0\.2\.2", which was not ordered/,
    },
    {
      label: 'a name that differs only by a Kelvin sign (U+212A lowercases to k)',
      names: [dns('key.example')],
      options: { rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: '\u212Aey.example' }) },
      message: /which was not ordered/,
    },
    {
      label: 'an order object for another name',
      names: [dns('mine.example')],
      options: { rewriteOrder: (order) => ({ ...order, identifiers: [{ type: 'dns', value: 'victim.example' }] }) },
      message: /the CA's order .* is for victim\.example, not what was ordered \(mine\.example\)/,
    },
    {
      label: 'an order object with one name more',
      names: [dns('mine.example')],
      options: {
        rewriteOrder: (order) => ({
          ...order,
          identifiers: [
            { type: 'dns', value: 'mine.example' },
            { type: 'dns', value: 'victim.example' },
          ],
        }),
      },
      message: /is for mine\.example, victim\.example, not what was ordered \(mine\.example\)/,
    },
    {
      label: 'a pre-authorization (newAuthz) answered for another name',
      names: [dns('mine.example')],
      preAuthorize: true,
      options: {
        newAuthz: true,
        rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: 'victim.example' }),
      },
      message: /is for "victim\.example", which was not ordered/,
    },
  ];

  it.each(cases)('fake CA: $label → exit 3, no solver call', async ({ names, options, preAuthorize, message }) => {
    const run = await obtainFromFake(options, names, preAuthorize ? { preAuthorize } : {});
    expectCaRefusal(run, message);
    expect(run.solver.tasks).toEqual([]);
  });

  it('fake CA: an authorization that names another identifier once validated stops the run before finalization', async () => {
    let finalized = false;
    const run = await obtainFromFake(
      {
        rewriteAuthorization: (a, state) =>
          state.status === 'valid' ? { ...a, identifier: { type: 'dns', value: 'victim.example' } } : a,
        interceptor: (request) => {
          if (request.resource === 'finalize') finalized = true;
          return false;
        },
      },
      [dns('mine.example')],
    );
    expectCaRefusal(run, /is for "victim\.example", which was not ordered/);
    expect(run.solver.tasks.map((t) => t.identifier.value)).toEqual(['mine.example']);
    expect(finalized).toBe(false);
  });
});

/** The order's authorization URLs rewritten (every order object the fake sends). */
function orderAuthorizations(rewrite: (urls: string[]) => string[]): FakeCaOptions['rewriteOrder'] {
  return (order) => ({ ...order, authorizations: rewrite(order.authorizations as string[]) });
}

describe('fake CA: an order whose authorizations are not one per ordered name stops the run before any solver is called', () => {
  const cases: Array<{ label: string; names: Identifier[]; options: FakeCaOptions; message: RegExp }> = [
    {
      label: 'the one authorization URL listed twice',
      names: [dns('mine.example')],
      options: { rewriteOrder: orderAuthorizations((urls) => [...urls, ...urls]) },
      message: /order .* lists the authorization .* twice/,
    },
    {
      label: 'the first of two authorization URLs listed twice, the second left out',
      names: [dns('a.example'), dns('b.example')],
      options: { rewriteOrder: orderAuthorizations((urls) => [urls[0] as string, urls[0] as string]) },
      message: /order .* lists the authorization .* twice/,
    },
    {
      label: 'two authorizations (two URLs) for the same ordered name, none for the other',
      names: [dns('a.example'), dns('b.example')],
      options: { rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: 'a.example' }) },
      message: /order .* has 2 authorizations for a\.example and none for b\.example/,
    },
    {
      label: 'an authorization left out',
      names: [dns('a.example'), dns('b.example')],
      options: { rewriteOrder: orderAuthorizations((urls) => urls.slice(0, 1)) },
      message: /order .* lists 1 authorization for 2 ordered names/,
    },
    {
      label: 'no authorization at all',
      names: [dns('a.example')],
      options: { rewriteOrder: orderAuthorizations(() => []) },
      message: /order .* lists 0 authorizations for 1 ordered name/,
    },
  ];

  it.each(cases)('fake CA: $label → exit 3, no solver call', async ({ names, options, message }) => {
    const run = await obtainFromFake(options, names);
    expectCaRefusal(run, message);
    expect(run.solver.tasks).toEqual([]);
  });

  it('fake CA: a.example and *.a.example are two ordered names whose authorizations share the value a.example', async () => {
    const run = await obtainFromFake({ challengeTypes: ['http-01', 'dns-01'] }, [dns('a.example'), dns('*.a.example')]);
    expect(run.error).toBeUndefined();
    expect(run.solver.tasks.map((t) => [t.identifier.value, t.wildcard])).toEqual([
      ['a.example', false],
      ['a.example', true],
    ]);
  });

  it('fake CA: pre-authorized names (newAuthz), already valid and listed in the order, are accepted', async () => {
    const run = await obtainFromFake({ newAuthz: true }, [dns('a.example'), dns('b.example')], { preAuthorize: true });
    expect(run.error).toBeUndefined();
    expect(run.result?.reusedAuthorizations).toBe(2);
  });

  it('fake CA: a certificate repeating an ordered name → the result lists each ordered name once', async () => {
    const run = await obtainFromFake(
      {
        certificateChain: async ({ issueWithNames, caPem }) =>
          (await issueWithNames([
            { type: 'dns', value: 'b.example' },
            { type: 'dns', value: 'a.example' },
            { type: 'dns', value: 'A.example' },
            { type: 'dns', value: 'b.example' },
          ])) + caPem,
      },
      [dns('a.example'), dns('b.example')],
    );
    expect(run.error).toBeUndefined();
    expect(run.result?.identifiers).toEqual([dns('a.example'), dns('b.example')]);
  });
});

describe("fake CA: plugins get acmecli's own spelling of the ordered name, never the CA's", () => {
  const cases: Array<{
    label: string;
    names: Identifier[];
    caSpelling: Record<string, unknown>;
    expected: Identifier;
  }> = [
    {
      label: 'the name in capitals',
      names: [dns('mine.example')],
      caSpelling: { type: 'dns', value: 'MINE.Example' },
      expected: dns('mine.example'),
    },
    {
      label: 'the name with a trailing dot',
      names: [dns('mine.example')],
      caSpelling: { type: 'dns', value: 'mine.example.' },
      expected: dns('mine.example'),
    },
    {
      label: 'an IPv6 address written out in full',
      names: [{ type: 'ip', value: '2001:db8::1' }],
      caSpelling: { type: 'ip', value: '2001:DB8:0:0:0:0:0:1' },
      expected: { type: 'ip', value: '2001:db8::1' },
    },
  ];

  it.each(cases)('fake CA: $label', async ({ names, caSpelling, expected }) => {
    const run = await obtainFromFake({ rewriteAuthorization: authorizationIdentifier(caSpelling) }, names);
    expect(run.error).toBeUndefined();
    expect(run.solver.tasks).toHaveLength(1);
    const task = run.solver.tasks[0] as ChallengeTask;
    expect(task.identifier).toEqual(expected);
    expect(task.batch.identifiers).toEqual([expected.value]);
    expect(run.result?.identifiers).toEqual([expected]);
  });
});

describe('fake CA: a certificate whose names are not exactly the ordered ones is refused', () => {
  const cases: Array<{
    label: string;
    names: Identifier[];
    sans: Array<{ type: 'dns' | 'ip' | 'url'; value: string }>;
    message: RegExp;
  }> = [
    {
      label: 'evil.example and www.google.com for an order of a.example',
      names: [dns('a.example')],
      sans: [
        { type: 'dns', value: 'evil.example' },
        { type: 'dns', value: 'www.google.com' },
      ],
      message: /names evil\.example, www\.google\.com, not what was ordered \(a\.example\)/,
    },
    {
      label: 'one ordered name missing',
      names: [dns('a.example'), dns('b.example')],
      sans: [{ type: 'dns', value: 'a.example' }],
      message: /names a\.example, not what was ordered \(a\.example, b\.example\)/,
    },
    {
      label: 'one name more',
      names: [dns('a.example')],
      sans: [
        { type: 'dns', value: 'a.example' },
        { type: 'dns', value: 'extra.example' },
      ],
      message: /names a\.example, extra\.example, not what was ordered/,
    },
    {
      label: 'an extra URI name',
      names: [dns('a.example')],
      sans: [
        { type: 'dns', value: 'a.example' },
        { type: 'url', value: 'https://evil.example/' },
      ],
      message: /holds a subjectAltName of another type \(uniformResourceIdentifier\)/,
    },
    {
      label: 'the ordered name with a trailing dot',
      names: [dns('a.example')],
      sans: [{ type: 'dns', value: 'a.example.' }],
      message: /names a\.example\., not what was ordered \(a\.example\)/,
    },
    {
      label: 'the IP address of another machine',
      names: [{ type: 'ip', value: '192.0.2.1' }],
      sans: [{ type: 'ip', value: '192.0.2.66' }],
      message: /names 192\.0\.2\.66, not what was ordered \(192\.0\.2\.1\)/,
    },
  ];

  it.each(cases)('fake CA: $label → exit 3', async ({ names, sans, message }) => {
    const run = await obtainFromFake(
      { certificateChain: async ({ issueWithNames, caPem }) => (await issueWithNames(sans)) + caPem },
      names,
    );
    expectCaRefusal(run, message);
  });

  it('fake CA: the same names in another order and case are accepted, and the result lists what the certificate holds', async () => {
    const run = await obtainFromFake(
      {
        certificateChain: async ({ issueWithNames, caPem }) =>
          (await issueWithNames([
            { type: 'ip', value: '192.0.2.1' },
            { type: 'dns', value: 'B.example' },
            { type: 'dns', value: 'a.example' },
          ])) + caPem,
      },
      [dns('a.example'), dns('b.example'), { type: 'ip', value: '192.0.2.1' }],
    );
    expect(run.error).toBeUndefined();
    expect(run.result?.identifiers).toEqual([dns('a.example'), dns('b.example'), { type: 'ip', value: '192.0.2.1' }]);
    expect(parseCertificate(run.result?.certificatePem as string).identifiers).toHaveLength(3);
  });
});

// -------------------------------------------------------------------------------------------------
// The built CLI: hooks, nsupdate against BIND, files on disk, exit codes

async function registeredConfigDir(): Promise<string> {
  const dir = await scratchDir();
  fake.options = {};
  const result = await runCli(['--config-dir', dir, '--server', fake.directoryUrl, 'register', '--agree-tos']);
  expect(result.exitCode, describeRun(result)).toBe(0);
  return dir;
}

function cli(dir: string, args: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  return runCli(['--config-dir', dir, '--server', fake.directoryUrl, ...args], { env, ...(cwd ? { cwd } : {}) });
}

/** A manual auth hook that writes its whole environment to `record` (a file per run). */
async function recordingHook(dir: string): Promise<{ hook: string; record: string }> {
  const record = join(dir, 'hook-env.txt');
  const script = join(dir, 'record-env.sh');
  await writeFile(script, `#!/bin/sh\nenv > '${record}'\n`);
  await chmod(script, 0o755);
  return { hook: script, record };
}

function expectExit(result: CliResult, code: number, message?: RegExp): void {
  expect(result.exitCode, describeRun(result)).toBe(code);
  if (message) expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('fake CA: an order whose authorizations are not one per ordered name (CLI)', () => {
  it.each([
    { label: 'its authorization URL listed twice', rewrite: (urls: string[]) => [...urls, ...urls] },
    { label: 'its authorization left out', rewrite: () => [] },
  ])(
    'fake CA: an order of mine.example with $label → exit 3 and the manual auth hook never runs',
    async ({ rewrite }) => {
      const dir = await registeredConfigDir();
      const { hook, record } = await recordingHook(dir);
      fake.options = { rewriteOrder: orderAuthorizations(rewrite) };
      const result = await cli(dir, [
        'issue',
        '-d',
        'mine.example',
        '--manual',
        '--manual-auth-hook',
        hook,
        '--preferred-challenges',
        'http-01',
      ]);
      fake.options = {};
      expectExit(result, 3, /order .* lists (the authorization .* twice|0 authorizations for 1 ordered name)/);
      expect(existsSync(record)).toBe(false);
      expect(existsSync(join(dir, 'certificates', 'mine.example'))).toBe(false);
    },
  );
});

describe('fake CA: an authorization for victim.example in an order of mine.example (CLI)', () => {
  it('fake CA: exit 3 and the manual auth hook never runs', async () => {
    const dir = await registeredConfigDir();
    const { hook, record } = await recordingHook(dir);
    fake.options = { rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: 'victim.example' }) };
    const result = await cli(dir, [
      'issue',
      '-d',
      'mine.example',
      '--manual',
      '--manual-auth-hook',
      hook,
      '--preferred-challenges',
      'http-01',
    ]);
    fake.options = {};
    expectExit(result, 3, /victim\.example/);
    expect(existsSync(record)).toBe(false);
    expect(existsSync(join(dir, 'certificates', 'mine.example'))).toBe(false);
  });

  describe('with --nsupdate against a real BIND', () => {
    const KEY: TsigKey = { name: 'hostile-ca', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
    let bind: BindHandle;
    beforeAll(async () => {
      bind = await startBind({ zones: [{ name: 'example' }], tsigKeys: [KEY] });
    });
    afterAll(async () => {
      await bind?.stop();
    });

    /** BIND's log lines about updates written after byte `from`. */
    async function updatesSince(from: number): Promise<string[]> {
      const log = await readFile(bind.daemon.logPath, 'utf8');
      return log
        .slice(from)
        .split('\n')
        .filter((line) => line.includes('updating zone'));
    }

    const issue = (dir: string) =>
      cli(dir, [
        '-v',
        'issue',
        '-d',
        'mine.example',
        '--nsupdate',
        '--nsupdate-server',
        bind.dnsServer,
        '--nsupdate-key-file',
        bind.keyFilePath(KEY.name),
        '--dns-resolver',
        bind.dnsServer,
        '--skip-dns-propagation-check',
      ]);

    it('fake CA: exit 3 and no update for _acme-challenge.victim.example reaches BIND', async () => {
      // First an honest run, to show the checks below see an update when one is sent.
      const honest = await registeredConfigDir();
      let logFrom = (await stat(bind.daemon.logPath)).size;
      fake.options = { challengeTypes: ['dns-01'] };
      const control = await issue(honest);
      fake.options = {};
      expectExit(control, 0);
      expect(
        (await updatesSince(logFrom)).some((line) =>
          line.includes("adding an RR at '_acme-challenge.mine.example' TXT"),
        ),
      ).toBe(true);

      const dir = await registeredConfigDir();
      logFrom = (await stat(bind.daemon.logPath)).size;
      const serialBefore = await bind.query('example', 'SOA');
      fake.options = {
        challengeTypes: ['dns-01'],
        rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: 'victim.example' }),
      };
      const result = await issue(dir);
      fake.options = {};
      expectExit(result, 3, /victim\.example/);
      // Neither an update (BIND logs each one, add and delete) nor a change of the zone's serial.
      expect(await updatesSince(logFrom)).toEqual([]);
      expect(await bind.query('example', 'SOA')).toEqual(serialBefore);
      expect(await bind.queryTxt('_acme-challenge.victim.example')).toEqual([]);
    });
  });
});

describe("fake CA: the Certigna guide's createtxt.sh gets the ordered name, never the CA's text (CLI)", () => {
  /**
   * createtxt.sh as the guide prints it; only the temp file moves into the test's directory
   * (parallel runs). `nsupdate` on PATH is a recorder that keeps the script it was given.
   */
  async function guideHook(dir: string): Promise<{ env: Record<string, string>; script: string; recorded: string }> {
    const bin = join(dir, 'bin');
    await mkdir(bin);
    const script = join(dir, 'nsupdate.txt');
    const recorded = join(dir, 'nsupdate-recorded.txt');
    await writeFile(join(bin, 'nsupdate'), `#!/bin/sh\nfor last; do :; done\ncat "$last" >> '${recorded}'\n`);
    await chmod(join(bin, 'nsupdate'), 0o755);
    await writeFile(
      join(dir, 'createtxt.sh'),
      `#!/bin/bash

echo "Create dns TXT"

echo "domain: $CERTBOT_DOMAIN"
echo "challenge: $CERTBOT_VALIDATION"
echo "file: $CERTBOT_TOKEN"
echo "auth: $CERTBOT_AUTH_OUTPUT"
echo "remaining: $CERTBOT_REMAINING_CHALLENGES"
echo "all domains: $CERTBOT_ALL_DOMAINS"

domain=$CERTBOT_DOMAIN
challenge=$CERTBOT_VALIDATION

tmpFile="${script}"

echo "server 127.0.0.1" > $tmpFile
echo "zone soapui.web" >> $tmpFile
#echo "update delete _acme-challenge.$domain 10" >> $tmpFile
echo "update add _acme-challenge.$domain 10 TXT $challenge" >> $tmpFile
echo "send" >> $tmpFile
echo "quit" >> $tmpFile
nsupdate -k "/etc/bind/keys" -v "$tmpFile"
`,
    );
    await chmod(join(dir, 'createtxt.sh'), 0o755);
    return { env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }, script, recorded };
  }

  const issueArgs = [
    'issue',
    '-d',
    'mine.example',
    '--manual',
    '--manual-auth-hook',
    './createtxt.sh',
    '--preferred-challenges',
    'dns-01',
    '--skip-dns-propagation-check',
  ];

  it('fake CA: an identifier with quotes, a newline and an escape sequence → exit 3, createtxt.sh never runs, no nsupdate script', async () => {
    const dir = await registeredConfigDir();
    const hook = await guideHook(dir);
    fake.options = {
      challengeTypes: ['dns-01'],
      rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: INJECTED }),
    };
    const result = await cli(dir, issueArgs, hook.env, dir);
    fake.options = {};
    expectExit(result, 3, /which was not ordered/);
    expect(existsSync(hook.script)).toBe(false);
    expect(existsSync(hook.recorded)).toBe(false);
  });

  it('fake CA: the CA spelling the name MINE.EXAMPLE → the script names mine.example, five lines, nothing injected', async () => {
    const dir = await registeredConfigDir();
    const hook = await guideHook(dir);
    fake.options = {
      challengeTypes: ['dns-01'],
      rewriteAuthorization: authorizationIdentifier({ type: 'dns', value: 'MINE.EXAMPLE' }),
    };
    const result = await cli(dir, issueArgs, hook.env, dir);
    fake.options = {};
    expectExit(result, 0);
    const lines = (await readFile(hook.recorded, 'utf8')).split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe('server 127.0.0.1');
    expect(lines[1]).toBe('zone soapui.web');
    expect(lines[2]).toMatch(/^update add _acme-challenge\.mine\.example 10 TXT [A-Za-z0-9_-]{43}$/);
    expect(lines.slice(3)).toEqual(['send', 'quit', '']);
    expect(result.stdout).toMatch(/issued for mine\.example\n/);
  });
});

describe('fake CA: a certificate for evil.example, www.google.com in an order of a.example (CLI)', () => {
  const evil = (): FakeCaOptions => ({
    certificateChain: async ({ issueWithNames, caPem }) =>
      (await issueWithNames([
        { type: 'dns', value: 'evil.example' },
        { type: 'dns', value: 'www.google.com' },
      ])) + caPem,
  });
  const issue = [
    'issue',
    '-d',
    'a.example',
    '--manual',
    '--manual-auth-hook',
    'true',
    '--preferred-challenges',
    'http-01',
  ];

  it('fake CA: a first issuance → exit 3 and no certificate files', async () => {
    const dir = await registeredConfigDir();
    fake.options = evil();
    const result = await cli(dir, issue);
    fake.options = {};
    expectExit(result, 3, /evil\.example, www\.google\.com/);
    expect(result.stdout).toBe('');
    expect(existsSync(join(dir, 'certificates', 'a.example'))).toBe(false);
  });

  it('fake CA: issue --force and renew --force of an existing certificate → exit 3, previous files byte-identical', async () => {
    const dir = await registeredConfigDir();
    const first = await cli(dir, issue);
    expectExit(first, 0);
    expect(first.stdout).toMatch(/issued for a\.example\n/);
    const lineage = join(dir, 'certificates', 'a.example');
    const before = await snapshotTree(lineage);

    fake.options = evil();
    const again = await cli(dir, [...issue, '--force']);
    const renewed = await cli(dir, ['renew', '--force']);
    fake.options = {};
    expectExit(again, 3, /evil\.example, www\.google\.com/);
    expectExit(renewed, 3, /evil\.example, www\.google\.com/);
    expect(await snapshotTree(lineage)).toEqual(before);
  });
});

describe('fake CA: an alternate chain that cannot be had never aborts the issuance (CLI)', () => {
  const issue = [
    'issue',
    '-d',
    'alt.example',
    '--manual',
    '--manual-auth-hook',
    'true',
    '--preferred-challenges',
    'http-01',
  ];
  const cases: Array<{ label: string; link: () => Promise<string>; preferred: boolean }> = [
    {
      label: 'an http:// link, without --preferred-chain',
      link: async () => 'http://alt.example.invalid/chain/1',
      preferred: false,
    },
    {
      label: 'an http:// link, with --preferred-chain',
      link: async () => 'http://alt.example.invalid/chain/1',
      preferred: true,
    },
    {
      label: 'an unreachable link, with --preferred-chain',
      link: async () => `http://127.0.0.1:${await freePort()}/chain/1`,
      preferred: true,
    },
    {
      label: 'a link the CA answers with 404, with --preferred-chain',
      link: async () => `${fake.origin}/cert/999999`,
      preferred: true,
    },
  ];

  it.each(cases)('fake CA: $label → exit 0 with the default chain', async ({ link, preferred }) => {
    const dir = await registeredConfigDir();
    fake.options = { certificateLinks: [`<${await link()}>;rel="alternate"`] };
    const result = await cli(dir, [...issue, ...(preferred ? ['--preferred-chain', 'Some Other Root'] : [])]);
    fake.options = {};
    expectExit(result, 0);
    if (preferred) expect(result.stderr).toMatch(/alternate chain .* (skipped|could not be)/);
    const fullchain = await readFile(join(dir, 'certificates', 'alt.example', 'fullchain.pem'), 'utf8');
    expect(fullchain.endsWith(fake.caPem)).toBe(true);
  });
});

describe('fake CA: CA faults that used to exit 2 ("nothing was sent") are 3 or 5 (CLI)', () => {
  const issue = [
    'issue',
    '-d',
    'fault.example',
    '--manual',
    '--manual-auth-hook',
    'true',
    '--preferred-challenges',
    'http-01',
  ];
  interface FaultCase {
    label: string;
    options: () => FakeCaOptions;
    args: string[];
    /** Register (and issue, for revoke) with an honest CA first. */
    setup: 'none' | 'register' | 'issue';
    code: 3 | 5;
    message: RegExp;
    /** The fault is only met after the challenges were presented (the certificate URL). */
    afterPresenting?: true;
  }
  const plainHttp = 'http://ca.example.invalid';
  const cases: FaultCase[] = [
    {
      label: 'a directory naming a plain http:// newOrder URL',
      options: () => ({ directory: (d) => ({ ...d, newOrder: `${plainHttp}/new-order` }) }),
      args: ['register', '--agree-tos'],
      setup: 'none',
      code: 5,
      message: /newOrder URL uses plain http:\/\//,
    },
    {
      label: 'a directory whose revokeCert is not a URL',
      options: () => ({ directory: (d) => ({ ...d, revokeCert: 'not a url' }) }),
      args: ['register', '--agree-tos'],
      setup: 'none',
      code: 5,
      message: /revokeCert URL is not a valid URL/,
    },
    {
      label: 'a newAccount Location on plain http://',
      options: () => ({
        rewriteLocation: (resource, location) => (resource === 'newAccount' ? `${plainHttp}/acct/1` : location),
      }),
      args: ['register', '--agree-tos'],
      setup: 'none',
      code: 5,
      message: /Location URL .* uses plain http:\/\//,
    },
    {
      label: 'a newOrder Location on plain http://',
      options: () => ({
        rewriteLocation: (resource, location) => (resource === 'newOrder' ? `${plainHttp}/order/1` : location),
      }),
      args: issue,
      setup: 'register',
      code: 5,
      message: /uses plain http:\/\//,
    },
    {
      label: 'an authorization URL on plain http://',
      options: () => ({ rewriteOrder: (o) => ({ ...o, authorizations: [`${plainHttp}/authz/1`] }) }),
      args: issue,
      setup: 'register',
      code: 5,
      message: /uses plain http:\/\//,
    },
    {
      label: 'a challenge URL of another scheme',
      options: () => ({
        rewriteAuthorization: (a) => ({
          ...a,
          challenges: (a.challenges as Array<Record<string, unknown>>).map((c) => ({
            ...c,
            url: 'ftp://ca.example.invalid/chall/1',
          })),
        }),
      }),
      args: issue,
      setup: 'register',
      code: 5,
      message: /must be an https:\/\/ URL/,
    },
    {
      label: 'a finalize URL on plain http://',
      options: () => ({ rewriteOrder: (o) => ({ ...o, finalize: `${plainHttp}/finalize/1` }) }),
      args: issue,
      setup: 'register',
      code: 5,
      message: /uses plain http:\/\//,
    },
    {
      label: 'a certificate URL on plain http://',
      options: () => ({
        rewriteOrder: (o) => (o.certificate === undefined ? o : { ...o, certificate: `${plainHttp}/cert/1` }),
      }),
      args: issue,
      setup: 'register',
      code: 5,
      message: /uses plain http:\/\//,
      afterPresenting: true,
    },
    {
      label: 'only challenge types acmecli has no plugin for',
      options: () => ({ challengeTypes: ['dns-account-01', 'dns-persist-01'] }),
      args: issue,
      setup: 'register',
      code: 3,
      message: /the CA offers only dns-account-01, dns-persist-01 for fault\.example/,
    },
    {
      label: 'a directory without revokeCert, on revoke',
      options: () => ({ directory: (d) => ({ ...d, revokeCert: undefined }) }),
      args: ['revoke', '--cert-name', 'fault.example'],
      setup: 'issue',
      code: 3,
      message: /does not offer revokeCert/,
    },
    {
      label: 'a directory without keyChange, on account rollover',
      options: () => ({ directory: (d) => ({ ...d, keyChange: undefined }) }),
      args: ['account', 'rollover'],
      setup: 'register',
      code: 3,
      message: /does not offer keyChange/,
    },
  ];

  it.each(cases)('fake CA: $label → exit $code', async ({ options, args, setup, code, message, afterPresenting }) => {
    const dir = setup === 'none' ? await scratchDir() : await registeredConfigDir();
    const { hook, record } = await recordingHook(dir);
    if (setup === 'issue') expectExit(await cli(dir, issue), 0);
    fake.options = options();
    const result = await cli(
      dir,
      args.map((arg) => (arg === 'true' ? hook : arg)),
    );
    fake.options = {};
    expectExit(result, code, message);
    // A URL acmecli will not use is found when it arrives, before anything is presented.
    if (args === issue) expect(existsSync(record)).toBe(afterPresenting === true);
  });
});
