import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Dns01Task, Http01Task } from '../../src/acme/solver.js';
import { DEFAULT_DNS01_SETTINGS, type Dns01Settings } from '../../src/challenges/dns01/settings.js';
import type { PluginContext } from '../../src/challenges/plugin.js';
import { PluginError, UsageError } from '../../src/errors.js';
import { runCommand } from '../../src/hooks/run-command.js';
import { silentLogger } from '../../src/output/logger.js';
import { buildHookEnv } from '../../plugins/manual/hook-env.js';
import { manualPlugin } from '../../plugins/manual/index.js';
import { processIsAlive, waitUntil } from '../helpers/processes.js';

// The propagation check and CNAME following are other modules' jobs (and need DNS); here only
// the calls are checked. CNAMEs come from `cnames`; the alias rule is the real one's.
const { waitForTxtRecord, resolveChallengeRecordName, cnames } = vi.hoisted(() => {
  const cnames = new Map<string, string>();
  return {
    cnames,
    waitForTxtRecord: vi.fn(async (_request: unknown) => ({ mode: 'checked', servers: [], elapsedMs: 0, polls: 1 })),
    resolveChallengeRecordName: vi.fn(async (name: string, settings: { challengeAlias?: string }) =>
      settings.challengeAlias ? `_acme-challenge.${settings.challengeAlias}` : (cnames.get(name) ?? name),
    ),
  };
});
vi.mock('../../src/challenges/dns01/propagation.js', () => ({ waitForTxtRecord }));
vi.mock('../../src/challenges/dns01/cname.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/challenges/dns01/cname.js')>()),
  resolveChallengeRecordName,
}));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'acmecli-manual-'));
  waitForTxtRecord.mockClear();
  resolveChallengeRecordName.mockClear();
  cnames.clear();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const signal = new AbortController().signal;
const isPosix = process.platform !== 'win32';

function contextWith(overrides: Partial<PluginContext> = {}): PluginContext {
  return { log: silentLogger, runCommand, dns01: DEFAULT_DNS01_SETTINGS, ...overrides };
}

const identifiers = ['example.com', '*.example.com', 'www.example.com'];

function dnsTask(value: string, wildcard: boolean, index: number, txtValue = `txt-${index}`): Dns01Task {
  return {
    type: 'dns-01',
    identifier: { type: 'dns', value },
    wildcard,
    token: `token${index}`,
    keyAuthorization: `token${index}.thumb`,
    recordName: `_acme-challenge.${value}`,
    txtValue,
    batch: { index, total: identifiers.length, identifiers },
  };
}

function httpTask(value: string, index = 0, total = 1, token = 'tok_en-1'): Http01Task {
  return {
    type: 'http-01',
    identifier: { type: 'dns', value },
    wildcard: false,
    token,
    path: `/.well-known/acme-challenge/${token}`,
    keyAuthorization: `${token}.thumb`,
    batch: { index, total, identifiers: [value] },
  };
}

/** Writes an executable bash hook, run by path as in `--manual-auth-hook ./createtxt.sh`. */
async function writeHook(name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/bash\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** Reads an `env -0` dump into an object. */
async function readEnvDump(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8');
  const env: Record<string, string> = {};
  for (const entry of text.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return env;
}

function pick(env: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([key]) => key.startsWith(prefix)));
}

describe('manual options', () => {
  it('defaults the hook timeout and round-trips through stored settings', () => {
    const options = manualPlugin.parseOptions({ manualAuthHook: './createtxt.sh', manualCleanupHook: './cleantxt.sh' });
    expect(options).toEqual({ authHook: './createtxt.sh', cleanupHook: './cleantxt.sh', hookTimeoutSeconds: 300 });
    const settings = manualPlugin.toSettings(options);
    expect(settings).toEqual({
      manualAuthHook: './createtxt.sh',
      manualCleanupHook: './cleantxt.sh',
      manualHookTimeout: 300,
    });
    expect(manualPlugin.parseOptions(settings)).toEqual(options);
    expect(manualPlugin.parseOptions({ manualHookTimeout: '1.5' }).hookTimeoutSeconds).toBe(1.5);
  });

  it('names the flag of a bad value', () => {
    expect(() => manualPlugin.parseOptions({ manualHookTimeout: '0' })).toThrow(/--manual-hook-timeout/);
    expect(() => manualPlugin.parseOptions({ manualHookTimeout: 'soon' })).toThrow(UsageError);
    expect(() => manualPlugin.parseOptions({ manualAuthHook: '  ' })).toThrow(/--manual-auth-hook/);
    expect(() => manualPlugin.parseOptions({ manualCleanupHook: 3 })).toThrow(/--manual-cleanup-hook/);
  });
});

describe('manual hook environment', () => {
  it('sets certbot names and acmecli names; CERTBOT_TOKEN is empty for dns-01', () => {
    const env = buildHookEnv(dnsTask('example.com', true, 1));
    expect(pick(env, 'CERTBOT_')).toEqual({
      CERTBOT_DOMAIN: 'example.com',
      CERTBOT_VALIDATION: 'txt-1',
      CERTBOT_TOKEN: '',
      CERTBOT_REMAINING_CHALLENGES: '1',
      CERTBOT_ALL_DOMAINS: 'example.com,example.com,www.example.com',
      CERTBOT_AUTH_OUTPUT: '',
    });
    expect(pick(env, 'ACMECLI_')).toEqual({
      ACMECLI_DOMAIN: 'example.com',
      ACMECLI_IDENTIFIER_TYPE: 'dns',
      ACMECLI_WILDCARD: 'true',
      ACMECLI_CHALLENGE_TYPE: 'dns-01',
      ACMECLI_TOKEN: 'token1',
      ACMECLI_KEY_AUTHORIZATION: 'token1.thumb',
      ACMECLI_TXT_NAME: '_acme-challenge.example.com',
      ACMECLI_TXT_VALUE: 'txt-1',
      ACMECLI_HTTP_PATH: '',
      ACMECLI_REMAINING_CHALLENGES: '1',
      ACMECLI_ALL_DOMAINS: 'example.com,*.example.com,www.example.com',
      ACMECLI_AUTH_OUTPUT: '',
    });
    const http = buildHookEnv(httpTask('a.example'), { authOutput: 'done' });
    expect(http.CERTBOT_VALIDATION).toBe('tok_en-1.thumb');
    expect(http.CERTBOT_TOKEN).toBe('tok_en-1');
    expect(http.ACMECLI_HTTP_PATH).toBe('/.well-known/acme-challenge/tok_en-1');
    expect(http.CERTBOT_AUTH_OUTPUT).toBe('done');
  });
});

describe.runIf(isPosix)('manual hooks (bash scripts, certbot style)', () => {
  it('runs the seed createtxt.sh-style hook per task, counting down, and the cleanup hook with its output', async () => {
    // The echo lines of Certigna's createtxt.sh, unchanged, plus an environment dump.
    const auth = await writeHook(
      'createtxt.sh',
      [
        'echo "Create dns TXT"',
        'echo "domain: $CERTBOT_DOMAIN"',
        'echo "challenge: $CERTBOT_VALIDATION"',
        'echo "file: $CERTBOT_TOKEN"',
        'echo "auth: $CERTBOT_AUTH_OUTPUT"',
        'echo "remaining: $CERTBOT_REMAINING_CHALLENGES"',
        'echo "all domains: $CERTBOT_ALL_DOMAINS"',
        `env -0 > "${dir}/auth-$CERTBOT_REMAINING_CHALLENGES.env"`,
      ].join('\n'),
    );
    const cleanup = await writeHook('cleantxt.sh', `env -0 > "${dir}/cleanup-$CERTBOT_REMAINING_CHALLENGES.env"`);

    const previous = process.env['CERTBOT_TOKEN'];
    process.env['CERTBOT_TOKEN'] = 'stale-from-parent';
    try {
      const solver = manualPlugin.createSolver(
        manualPlugin.parseOptions({ manualAuthHook: auth, manualCleanupHook: cleanup }),
        contextWith(),
      );
      expect(solver.maxConcurrency).toBe(1);
      const tasks = [
        dnsTask('example.com', false, 0),
        dnsTask('example.com', true, 1),
        dnsTask('www.example.com', false, 2),
      ];
      await solver.prepare!({ identifiers: tasks.map((t) => t.identifier), types: ['dns-01'] }, signal);
      for (const task of tasks) await solver.present(task, signal);

      const first = await readEnvDump(path.join(dir, 'auth-2.env'));
      expect(pick(first, 'CERTBOT_')).toEqual({
        CERTBOT_DOMAIN: 'example.com',
        CERTBOT_VALIDATION: 'txt-0',
        CERTBOT_TOKEN: '',
        CERTBOT_REMAINING_CHALLENGES: '2',
        CERTBOT_ALL_DOMAINS: 'example.com,example.com,www.example.com',
        CERTBOT_AUTH_OUTPUT: '',
      });
      const wildcard = await readEnvDump(path.join(dir, 'auth-1.env'));
      expect(wildcard['CERTBOT_DOMAIN']).toBe('example.com');
      expect(wildcard['ACMECLI_WILDCARD']).toBe('true');
      expect(wildcard['ACMECLI_TXT_NAME']).toBe('_acme-challenge.example.com');
      const last = await readEnvDump(path.join(dir, 'auth-0.env'));
      expect(last['CERTBOT_DOMAIN']).toBe('www.example.com');
      expect(last['CERTBOT_VALIDATION']).toBe('txt-2');

      for (const task of tasks) await solver.cleanUp(task, signal);
      const cleaned = await readEnvDump(path.join(dir, 'cleanup-2.env'));
      expect(cleaned['CERTBOT_AUTH_OUTPUT']).toBe(
        [
          'Create dns TXT',
          'domain: example.com',
          'challenge: txt-0',
          'file: ',
          'auth: ',
          'remaining: 2',
          'all domains: example.com,example.com,www.example.com',
        ].join('\n'),
      );
      expect(cleaned['ACMECLI_AUTH_OUTPUT']).toBe(cleaned['CERTBOT_AUTH_OUTPUT']);
      expect(cleaned['CERTBOT_VALIDATION']).toBe('txt-0');
      expect((await readdir(dir)).filter((f) => f.startsWith('cleanup-')).sort()).toEqual([
        'cleanup-0.env',
        'cleanup-1.env',
        'cleanup-2.env',
      ]);
    } finally {
      if (previous === undefined) delete process.env['CERTBOT_TOKEN'];
      else process.env['CERTBOT_TOKEN'] = previous;
    }
  });

  it('gives http-01 hooks the token, key authorization and path', async () => {
    const auth = await writeHook('auth.sh', `env -0 > "${dir}/auth.env"`);
    const solver = manualPlugin.createSolver(manualPlugin.parseOptions({ manualAuthHook: auth }), contextWith());
    const task = httpTask('a.example');
    await solver.present(task, signal);
    const env = await readEnvDump(path.join(dir, 'auth.env'));
    expect(env['CERTBOT_TOKEN']).toBe('tok_en-1');
    expect(env['CERTBOT_VALIDATION']).toBe('tok_en-1.thumb');
    expect(env['ACMECLI_HTTP_PATH']).toBe('/.well-known/acme-challenge/tok_en-1');
    expect(env['ACMECLI_CHALLENGE_TYPE']).toBe('http-01');
    await solver.cleanUp(task, signal);
    // No wait for http-01: nothing to propagate.
    await solver.waitUntilVisible!(task, signal);
    expect(waitForTxtRecord).not.toHaveBeenCalled();
  });

  it('passes hostile values only as data: no shell ever interprets them', async () => {
    const marker = path.join(dir, 'pwned');
    const hostile = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `x; touch ${marker}`,
      `'"; touch ${marker}; echo "'`,
      '$HOME',
    ];
    const auth = await writeHook(
      'auth.sh',
      // Typical hook usage: quoted expansions, pasted into a file the way createtxt.sh does.
      `echo "update add _acme-challenge.$CERTBOT_DOMAIN 10 TXT $CERTBOT_VALIDATION" > "${dir}/nsupdate-$CERTBOT_REMAINING_CHALLENGES.txt"\n` +
        `env -0 > "${dir}/auth-$CERTBOT_REMAINING_CHALLENGES.env"`,
    );
    const solver = manualPlugin.createSolver(manualPlugin.parseOptions({ manualAuthHook: auth }), contextWith());
    for (const [index, value] of hostile.entries()) {
      const task: Dns01Task = {
        ...dnsTask(`d${index}.example`, false, 0, value),
        keyAuthorization: value,
        batch: { index: 0, total: 1, identifiers: [value] },
      };
      await solver.present(task, signal);
      const env = await readEnvDump(path.join(dir, 'auth-0.env'));
      expect(env['CERTBOT_VALIDATION']).toBe(value);
      expect(env['ACMECLI_KEY_AUTHORIZATION']).toBe(value);
      expect(env['CERTBOT_ALL_DOMAINS']).toBe(value);
      expect(await readFile(path.join(dir, 'nsupdate-0.txt'), 'utf8')).toBe(
        `update add _acme-challenge.d${index}.example 10 TXT ${value}\n`,
      );
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('turns a failing hook into a PluginError with its last stderr lines, and still cleans up', async () => {
    const auth = await writeHook(
      'auth.sh',
      [
        'echo "Create dns TXT"',
        'echo "update failed" >&2',
        'echo "; TSIG error with server: tsig indicates error" >&2',
        'echo "update failed: REFUSED" >&2',
        'exit 1',
      ].join('\n'),
    );
    const cleanup = await writeHook('cleanup.sh', `env -0 > "${dir}/cleanup.env"`);
    const solver = manualPlugin.createSolver(
      manualPlugin.parseOptions({ manualAuthHook: auth, manualCleanupHook: cleanup }),
      contextWith(),
    );
    const task = dnsTask('example.com', false, 0);
    const failure = await solver.present(task, signal).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PluginError);
    expect((failure as Error).message).toBe(
      'manual auth hook exited 1 for example.com: update failed / ; TSIG error with server: tsig indicates error / update failed: REFUSED',
    );
    // The orchestrator calls cleanUp for every attempted present: the cleanup hook runs.
    await solver.cleanUp(task, signal);
    const env = await readEnvDump(path.join(dir, 'cleanup.env'));
    expect(env['CERTBOT_DOMAIN']).toBe('example.com');
    expect(env['CERTBOT_AUTH_OUTPUT']).toBe('Create dns TXT');
  });

  it('names the wildcard in errors and reports a cleanup hook failure', async () => {
    const auth = await writeHook('auth.sh', 'exit 0');
    const cleanup = await writeHook('cleanup.sh', 'echo "gone already" >&2; exit 3');
    const solver = manualPlugin.createSolver(
      manualPlugin.parseOptions({ manualAuthHook: auth, manualCleanupHook: cleanup }),
      contextWith(),
    );
    const task = dnsTask('example.com', true, 1);
    await solver.present(task, signal);
    await expect(solver.cleanUp(task, signal)).rejects.toThrow(
      'manual cleanup hook exited 3 for *.example.com: gone already',
    );
  });

  it('stops a hook that outlives --manual-hook-timeout', async () => {
    // The hook records its pid; exec keeps it for the sleep that outlives the timeout.
    const auth = await writeHook('auth.sh', `echo $$ > "${dir}/auth.pid"\nexec sleep 300`);
    const cleanup = await writeHook('cleanup.sh', `touch "${dir}/cleaned"`);
    const solver = manualPlugin.createSolver(
      // Long enough for bash to start on a loaded machine and write its pid.
      manualPlugin.parseOptions({ manualAuthHook: auth, manualCleanupHook: cleanup, manualHookTimeout: '2' }),
      contextWith(),
    );
    const task = httpTask('a.example');
    const failure = await solver.present(task, signal).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PluginError);
    expect((failure as Error).message).toBe('manual auth hook timed out after 2 s for a.example');
    const hook = Number((await readFile(path.join(dir, 'auth.pid'), 'utf8')).trim());
    try {
      // Killed, not waited for (the kill signal is delivered asynchronously).
      await waitUntil(() => !processIsAlive(hook), {
        timeoutMs: 10_000,
        what: `the auth hook (pid ${hook}) to be gone`,
      });
    } finally {
      if (processIsAlive(hook)) process.kill(hook, 'SIGKILL');
    }
    await solver.cleanUp(task, signal);
    expect(existsSync(path.join(dir, 'cleaned'))).toBe(true);
  });

  it('tells hooks the alias name under --challenge-alias, and waits there for every value', async () => {
    const auth = await writeHook('auth.sh', `env -0 > "${dir}/auth-$CERTBOT_REMAINING_CHALLENGES.env"`);
    const cleanup = await writeHook('cleanup.sh', `env -0 > "${dir}/cleanup-$CERTBOT_REMAINING_CHALLENGES.env"`);
    const dns01: Dns01Settings = { ...DEFAULT_DNS01_SETTINGS, challengeAlias: 'alias.example.net' };
    const solver = manualPlugin.createSolver(
      manualPlugin.parseOptions({ manualAuthHook: auth, manualCleanupHook: cleanup }),
      contextWith({ dns01 }),
    );
    const tasks = [dnsTask('example.com', false, 1, 'one'), dnsTask('www.example.com', false, 2, 'two')];
    for (const task of tasks) await solver.present(task, signal);
    const env = await readEnvDump(path.join(dir, 'auth-1.env'));
    expect(env['ACMECLI_TXT_NAME']).toBe('_acme-challenge.alias.example.net');
    // certbot's variables stay certbot's: its hooks derive the name from CERTBOT_DOMAIN.
    expect(env['CERTBOT_DOMAIN']).toBe('example.com');
    for (const task of tasks) await solver.waitUntilVisible!(task, signal);
    expect(waitForTxtRecord).toHaveBeenCalledTimes(1);
    expect(waitForTxtRecord.mock.calls[0]?.[0]).toMatchObject({
      recordName: '_acme-challenge.alias.example.net',
      values: ['one', 'two'],
    });
    for (const task of tasks) await solver.cleanUp(task, signal);
    expect((await readEnvDump(path.join(dir, 'cleanup-0.env')))['ACMECLI_TXT_NAME']).toBe(
      '_acme-challenge.alias.example.net',
    );
  });

  it('does not run the cleanup hook for a task that was never presented', async () => {
    const cleanup = await writeHook('cleanup.sh', `touch "${dir}/cleaned"`);
    const solver = manualPlugin.createSolver(
      manualPlugin.parseOptions({ manualAuthHook: 'true', manualCleanupHook: cleanup }),
      contextWith(),
    );
    await solver.cleanUp(dnsTask('example.com', false, 0), signal);
    expect(existsSync(path.join(dir, 'cleaned'))).toBe(false);
  });
});

describe('manual without hooks', () => {
  it('refuses to run non-interactively without --manual-auth-hook', async () => {
    const solver = manualPlugin.createSolver(manualPlugin.parseOptions({}), contextWith());
    const failure = await solver.prepare!(
      { identifiers: [{ type: 'dns', value: 'a.example' }], types: ['http-01'] },
      signal,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UsageError);
    expect((failure as Error).message).toBe('--manual needs --manual-auth-hook in non-interactive mode');
  });

  it('shows what to publish and waits for Enter, one task at a time', async () => {
    const messages: string[] = [];
    const prompt = vi.fn(async (lines: readonly string[], _signal: AbortSignal) => {
      messages.push(lines.join('\n'));
    });
    const solver = manualPlugin.createSolver(manualPlugin.parseOptions({}), contextWith({ prompt }));
    await solver.prepare!(
      { identifiers: [{ type: 'dns', value: 'example.com' }], types: ['http-01', 'dns-01'] },
      signal,
    );

    const http = httpTask('example.com', 0, 3);
    const apex = dnsTask('example.com', false, 1, 'apex-value');
    const wildcard = dnsTask('example.com', true, 2, 'wildcard-value');
    await solver.present(http, signal);
    await solver.present(apex, signal);
    await solver.present(wildcard, signal);

    expect(prompt).toHaveBeenCalledTimes(3);
    expect(prompt.mock.calls[0]?.[1]).toBe(signal);
    expect(messages[0]).toBe(
      [
        'Create a file containing just this data:',
        '',
        'tok_en-1.thumb',
        '',
        'and make it available on your web server at this URL:',
        '',
        'http://example.com/.well-known/acme-challenge/tok_en-1',
        '',
        'Press Enter once it is in place.',
      ].join('\n'),
    );
    expect(prompt.mock.calls[0]?.[0]).toContain('tok_en-1.thumb');
    expect(messages[1]).toContain('  name:  _acme-challenge.example.com.\n  type:  TXT\n  value: apex-value');
    expect(messages[1]).toContain('Keep what you published in the previous steps in place');
    expect(messages[2]).toContain('Publish a DNS TXT record for *.example.com:');
    expect(messages[2]).toContain('value: wildcard-value');
    expect(messages[2]).toContain('publish both TXT records');
  });

  it('puts IPv6 identifiers in brackets in the http-01 URL', async () => {
    const prompt = vi.fn(async (_lines: readonly string[], _signal: AbortSignal) => undefined);
    const solver = manualPlugin.createSolver(manualPlugin.parseOptions({}), contextWith({ prompt }));
    await solver.present({ ...httpTask('2001:db8::1'), identifier: { type: 'ip', value: '2001:db8::1' } }, signal);
    expect(prompt.mock.calls[0]?.[0]).toContain('http://[2001:db8::1]/.well-known/acme-challenge/tok_en-1');
  });
});

describe('manual dns-01 propagation', () => {
  it('waits once per record name for every value published under it', async () => {
    const settings: Dns01Settings = { ...DEFAULT_DNS01_SETTINGS, propagationTimeoutMs: 5_000 };
    const log = { ...silentLogger };
    const solver = manualPlugin.createSolver(
      manualPlugin.parseOptions({ manualAuthHook: 'exit 0' }),
      contextWith({ dns01: settings, log }),
    );
    const tasks = [
      dnsTask('example.com', false, 0, 'apex-value'),
      dnsTask('example.com', true, 1, 'wildcard-value'),
      dnsTask('www.example.com', false, 2, 'www-value'),
    ];
    for (const task of tasks) await solver.present(task, signal);
    await Promise.all(tasks.map((task) => solver.waitUntilVisible!(task, signal)));

    expect(waitForTxtRecord).toHaveBeenCalledTimes(2);
    expect(waitForTxtRecord).toHaveBeenCalledWith({
      recordName: '_acme-challenge.example.com',
      values: ['apex-value', 'wildcard-value'],
      settings,
      signal,
      log,
      resolver: expect.any(Object),
    });
    expect(waitForTxtRecord).toHaveBeenCalledWith({
      recordName: '_acme-challenge.www.example.com',
      values: ['www-value'],
      settings,
      signal,
      log,
      resolver: expect.any(Object),
    });
  });

  it('checks at the CNAME target, with every value that ends up there', async () => {
    cnames.set('_acme-challenge.example.com', '_acme-challenge.delegated.example.net');
    cnames.set('_acme-challenge.www.example.com', '_acme-challenge.delegated.example.net');
    const solver = manualPlugin.createSolver(manualPlugin.parseOptions({ manualAuthHook: 'exit 0' }), contextWith());
    const tasks = [dnsTask('example.com', false, 0, 'a'), dnsTask('www.example.com', false, 2, 'b')];
    for (const task of tasks) await solver.present(task, signal);
    for (const task of tasks) await solver.waitUntilVisible!(task, signal);
    expect(waitForTxtRecord).toHaveBeenCalledTimes(1);
    expect(waitForTxtRecord.mock.calls[0]?.[0]).toMatchObject({
      recordName: '_acme-challenge.delegated.example.net',
      values: ['a', 'b'],
    });
  });

  it('needs no look-up when the check is skipped or a plain delay', async () => {
    for (const dns01 of [
      { ...DEFAULT_DNS01_SETTINGS, skipPropagationCheck: true },
      { ...DEFAULT_DNS01_SETTINGS, propagationWaitMs: 10 },
    ]) {
      const solver = manualPlugin.createSolver(
        manualPlugin.parseOptions({ manualAuthHook: 'exit 0' }),
        contextWith({ dns01 }),
      );
      const task = dnsTask('example.com', false, 0);
      await solver.present(task, signal);
      await solver.waitUntilVisible!(task, signal);
    }
    expect(resolveChallengeRecordName).not.toHaveBeenCalled();
    expect(waitForTxtRecord).toHaveBeenCalledTimes(2);
  });

  it('lets a later call retry after a failed check', async () => {
    const solver = manualPlugin.createSolver(manualPlugin.parseOptions({ manualAuthHook: 'exit 0' }), contextWith());
    const task = dnsTask('example.com', false, 0);
    await solver.present(task, signal);
    waitForTxtRecord.mockRejectedValueOnce(new PluginError('not visible'));
    await expect(solver.waitUntilVisible!(task, signal)).rejects.toThrow('not visible');
    await solver.waitUntilVisible!(task, signal);
    expect(waitForTxtRecord).toHaveBeenCalledTimes(2);
  });
});
