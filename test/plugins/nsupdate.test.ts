/**
 * The nsupdate plugin end to end against a real BIND 9 (RFC 2136 + TSIG), started by this file:
 * present → visible → cleanUp → gone, coexistence of values, TSIG failures, REFUSED, zone
 * discovery, CNAME delegation, the propagation check and the TCP path.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Dns01Task } from '../../src/acme/solver.js';
import { DnsLookup } from '../../src/challenges/dns01/lookup.js';
import { waitForTxtRecord } from '../../src/challenges/dns01/propagation.js';
import { DEFAULT_DNS01_SETTINGS, type Dns01Settings } from '../../src/challenges/dns01/settings.js';
import { findZone } from '../../src/challenges/dns01/zone.js';
import type { PluginContext } from '../../src/challenges/plugin.js';
import { LocalError, PluginError, UsageError } from '../../src/errors.js';
import type { Logger } from '../../src/output/logger.js';
import { updateTxt } from '../../plugins/nsupdate/client.js';
import { createNsupdateSolver, nsupdatePlugin, type NsupdateSolverDeps } from '../../plugins/nsupdate/index.js';
import { parseKeyString } from '../../plugins/nsupdate/bind-keyfile.js';
import { startBind, type BindHandle } from '../helpers/bind.js';
import { makeTempDir, removeTempDir } from '../helpers/processes.js';

const KEYS = {
  k256: { name: 'k256', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x11).toString('base64') },
  k512: { name: 'k512', algorithm: 'hmac-sha512', secret: Buffer.alloc(64, 0x22).toString('base64') },
  k1: { name: 'k1', algorithm: 'hmac-sha1', secret: Buffer.alloc(20, 0x33).toString('base64') },
  other: { name: 'other', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 0x44).toString('base64') },
} as const;
const UPDATERS = ['k256', 'k512', 'k1'];

let bind: BindHandle;
let server: string;
let scratch: string;
const timings: string[] = [];

beforeAll(async () => {
  bind = await startBind({
    zones: [
      {
        name: 'example.test',
        records: [
          '_acme-challenge.www CNAME _acme-challenge.delegated.other.test.',
          '_acme-challenge.keep TXT "unrelated-value"',
          'deep.sub A 127.0.0.1',
        ],
        updateKeys: UPDATERS,
      },
      { name: 'other.test', updateKeys: UPDATERS },
      { name: 'locked.test', updateKeys: ['other'] },
    ],
    tsigKeys: Object.values(KEYS),
  });
  server = `${bind.address}:${bind.port}`;
  scratch = await makeTempDir('nsupdate-plugin');
});

afterAll(async () => {
  await bind?.stop();
  if (scratch) await removeTempDir(scratch);
  if (timings.length > 0) console.info(`nsupdate timings against BIND:\n  ${timings.join('\n  ')}`);
});

function collectingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug: ${m}`),
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
  };
}

function dns01(overrides: Partial<Dns01Settings> = {}): Dns01Settings {
  return { ...DEFAULT_DNS01_SETTINGS, resolvers: [server], propagationTimeoutMs: 10_000, ...overrides };
}

function context(overrides: Partial<Dns01Settings> = {}): PluginContext & { log: ReturnType<typeof collectingLogger> } {
  return {
    log: collectingLogger(),
    runCommand: () => Promise.reject(new Error('nsupdate must not run commands')),
    dns01: dns01(overrides),
  };
}

let counter = 0;
function task(domain: string, options: { wildcard?: boolean; value?: string } = {}): Dns01Task {
  const value = options.value ?? `value-${++counter}-${Date.now()}`;
  return {
    type: 'dns-01',
    identifier: { type: 'dns', value: domain },
    wildcard: options.wildcard ?? false,
    keyAuthorization: `token.${value}`,
    batch: { index: 0, total: 1, identifiers: [domain] },
    recordName: `_acme-challenge.${domain}`,
    txtValue: value,
    token: 'token',
  };
}

function solverFor(raw: Record<string, unknown>, ctx = context(), deps: NsupdateSolverDeps = {}) {
  const options = nsupdatePlugin.parseOptions({ nsupdateServer: server, ...raw });
  return createNsupdateSolver(options, ctx, { pollIntervalMs: 100, ...deps });
}

async function txt(name: string): Promise<string[]> {
  return (await bind.queryTxt(name)).sort();
}

/** dig, as an outside witness that BIND serves what we wrote. */
async function dig(name: string): Promise<string[]> {
  return (await bind.query(name, 'TXT')).map((line) => line.replaceAll('"', '')).sort();
}

const signal = (): AbortSignal => AbortSignal.timeout(30_000);

async function writeKeyFile(name: string, text: string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

function keyStatement(k: { name: string; algorithm: string; secret: string }): string {
  return `key "${k.name}" {\n\talgorithm ${k.algorithm};\n\tsecret "${k.secret}";\n};\n`;
}

describe('nsupdate against BIND', () => {
  it('hmac-sha256 key file: present → visible → cleanUp → gone', async () => {
    const keyFile = bind.keyFilePath('k256');
    const ctx = context();
    const solver = solverFor({ nsupdateKeyFile: keyFile }, ctx);
    const t = task('plain.example.test');
    await solver.prepare?.({ identifiers: [t.identifier], types: ['dns-01'] }, signal());
    const started = Date.now();
    await solver.present(t, signal());
    const presented = Date.now();
    await solver.waitUntilVisible?.(t, signal());
    timings.push(
      `present ${presented - started} ms + propagation check ${Date.now() - presented} ms (hmac-sha256, UDP)`,
    );
    expect(await dig('_acme-challenge.plain.example.test')).toEqual([t.txtValue]);
    await solver.cleanUp(t, signal());
    expect(await dig('_acme-challenge.plain.example.test')).toEqual([]);
    expect(
      ctx.log.lines.some((l) => l.includes('added TXT _acme-challenge.plain.example.test in zone example.test')),
    ).toBe(true);
  });

  it('hmac-sha512 inline key and hmac-sha1 picked by name from a multi-key file', async () => {
    const inline = solverFor({ nsupdateKey: `${KEYS.k512.algorithm}:${KEYS.k512.name}:${KEYS.k512.secret}` });
    const t512 = task('sha512.example.test');
    await inline.present(t512, signal());
    expect(await txt('_acme-challenge.sha512.example.test')).toEqual([t512.txtValue]);
    await inline.cleanUp(t512, signal());

    const multi = await writeKeyFile('multi.key', `# several keys\n${keyStatement(KEYS.k256)}${keyStatement(KEYS.k1)}`);
    const sha1 = solverFor({ nsupdateKeyFile: multi, nsupdateKeyName: 'k1' });
    const t1 = task('sha1.example.test');
    await sha1.present(t1, signal());
    expect(await txt('_acme-challenge.sha1.example.test')).toEqual([t1.txtValue]);
    await sha1.cleanUp(t1, signal());
    expect(await txt('_acme-challenge.sha1.example.test')).toEqual([]);
  });

  it('keeps wildcard and apex values side by side and removes only its own', async () => {
    const solver = solverFor({ nsupdateKey: `hmac-sha256:k256:${KEYS.k256.secret}` });
    const apex = task('keep.example.test');
    const wildcard = task('keep.example.test', { wildcard: true });
    await Promise.all([solver.present(apex, signal()), solver.present(wildcard, signal())]);
    await Promise.all([solver.waitUntilVisible?.(apex, signal()), solver.waitUntilVisible?.(wildcard, signal())]);
    expect(await dig('_acme-challenge.keep.example.test')).toEqual(
      [apex.txtValue, wildcard.txtValue, 'unrelated-value'].sort(),
    );
    await solver.cleanUp(apex, signal());
    expect(await txt('_acme-challenge.keep.example.test')).toEqual([wildcard.txtValue, 'unrelated-value'].sort());
    await solver.cleanUp(wildcard, signal());
    expect(await txt('_acme-challenge.keep.example.test')).toEqual(['unrelated-value']);
    // A second clean-up of the same task sends nothing and does not fail.
    await solver.cleanUp(wildcard, signal());
  });

  it("waits until the name shows every value of the run, not just the asking task's own", async () => {
    const solver = solverFor(
      { nsupdateKey: `hmac-sha256:k256:${KEYS.k256.secret}` },
      context({ propagationTimeoutMs: 700 }),
    );
    const name = '_acme-challenge.both.example.test';
    const apex = task('both.example.test');
    const wildcard = task('both.example.test', { wildcard: true });
    await solver.present(apex, signal());
    await solver.present(wildcard, signal());
    // The wildcard's value disappears behind the plugin's back: the apex's check may not pass.
    await updateTxt({
      server: { host: bind.address, port: bind.port },
      zone: 'example.test',
      changes: [{ action: 'delete', name, value: wildcard.txtValue, ttl: 0 }],
      key: parseKeyString(`k256:${KEYS.k256.secret}`),
      timeoutMs: 5000,
      signal: signal(),
    });
    await expect(solver.waitUntilVisible?.(apex, signal())).rejects.toThrow(
      `TXT ${name} is still missing "${wildcard.txtValue}" on ${server}`,
    );
    await solver.cleanUp(apex, signal());
    await solver.cleanUp(wildcard, signal());
    expect(await txt(name)).toEqual([]);
  });

  it('a wrong secret fails with BADSIG and key advice, never the secret; cleanUp is then a no-op', async () => {
    const wrongSecret = Buffer.alloc(32, 0x99).toString('base64');
    const ctx = context();
    const solver = solverFor({ nsupdateKey: `hmac-sha256:k256:${wrongSecret}` }, ctx);
    const t = task('badsig.example.test');
    const error = await solver.present(t, signal()).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(PluginError);
    expect(error?.message).toMatch(
      /zone example.test at 127.0.0.1:\d+ failed: the server answered NOTAUTH; .*BADSIG.*check the TSIG key name\/secret\/algorithm/,
    );
    for (const text of [error?.message, String(error?.cause), error?.stack, ...ctx.log.lines]) {
      expect(text ?? '').not.toContain(wrongSecret);
      expect(text ?? '').not.toContain(KEYS.k256.secret);
    }
    await solver.cleanUp(t, signal());
    expect(ctx.log.lines.some((l) => l.includes('nothing to clean up'))).toBe(true);
  });

  it('an unknown key name fails with BADKEY', async () => {
    const solver = solverFor({ nsupdateKey: `hmac-sha256:nobody:${KEYS.k256.secret}` });
    await expect(solver.present(task('badkey.example.test'), signal())).rejects.toThrow(
      /does not know TSIG key nobody \(hmac-sha256\) \(BADKEY\): check the TSIG key name\/secret\/algorithm/,
    );
  });

  it('a key not allowed for the zone fails with REFUSED naming key and zone', async () => {
    const solver = solverFor({ nsupdateKey: `hmac-sha256:k256:${KEYS.k256.secret}` });
    await expect(solver.present(task('www.locked.test'), signal())).rejects.toThrow(
      /in zone locked.test at 127.0.0.1:\d+ failed: the server answered REFUSED: key k256 may not update zone locked.test/,
    );
    // The key that is allowed works.
    const allowed = solverFor({ nsupdateKey: `hmac-sha256:other:${KEYS.other.secret}` });
    const t = task('www.locked.test');
    await allowed.present(t, signal());
    await allowed.cleanUp(t, signal());
  });

  it('finds the zone through SOA, and honours an explicit --nsupdate-zone', async () => {
    const lookup = new DnsLookup({ servers: [server] });
    expect(await findZone('_acme-challenge.deep.sub.example.test', lookup, signal())).toEqual({
      zone: 'example.test',
      primaryNs: 'ns.example.test',
    });
    const solver = solverFor({ nsupdateKey: `k256:${KEYS.k256.secret}` });
    const t = task('deep.sub.example.test');
    await solver.present(t, signal());
    expect(await txt('_acme-challenge.deep.sub.example.test')).toEqual([t.txtValue]);
    await solver.cleanUp(t, signal());

    const wrongZone = solverFor({ nsupdateKey: `k256:${KEYS.k256.secret}`, nsupdateZone: 'other.test' });
    await expect(wrongZone.present(task('x.example.test'), signal())).rejects.toThrow(
      '_acme-challenge.x.example.test is not inside zone other.test',
    );
  });

  it('follows the CNAME at _acme-challenge into another zone', async () => {
    const ctx = context();
    const solver = solverFor({ nsupdateKey: `k256:${KEYS.k256.secret}` }, ctx);
    const t = task('www.example.test');
    await solver.present(t, signal());
    await solver.waitUntilVisible?.(t, signal());
    expect(await txt('_acme-challenge.delegated.other.test')).toEqual([t.txtValue]);
    // The CNAME is untouched (BIND answers it without chasing into the other zone: recursion no).
    expect(await dig('_acme-challenge.www.example.test')).toEqual(['_acme-challenge.delegated.other.test.']);
    expect(await dig('_acme-challenge.delegated.other.test')).toEqual([t.txtValue]);
    expect(ctx.log.lines).toContain(
      'info: nsupdate: _acme-challenge.www.example.test is delegated to _acme-challenge.delegated.other.test',
    );
    await solver.cleanUp(t, signal());
    expect(await txt('_acme-challenge.delegated.other.test')).toEqual([]);
  });

  it('writes under --challenge-alias (acme.sh semantics)', async () => {
    const solver = solverFor(
      { nsupdateKey: `k256:${KEYS.k256.secret}` },
      context({ challengeAlias: 'alias.other.test' }),
    );
    const t = task('anything.example.test');
    await solver.present(t, signal());
    expect(await txt('_acme-challenge.alias.other.test')).toEqual([t.txtValue]);
    expect(await txt('_acme-challenge.anything.example.test')).toEqual([]);
    await solver.cleanUp(t, signal());
  });

  it('sends over TCP when asked, and a large update over TCP by itself', async () => {
    const solver = solverFor({ nsupdateKey: `k256:${KEYS.k256.secret}` }, context(), { transport: 'tcp' });
    const t = task('tcp.example.test');
    const started = Date.now();
    await solver.present(t, signal());
    timings.push(`present over TCP ${Date.now() - started} ms`);
    expect(await txt('_acme-challenge.tcp.example.test')).toEqual([t.txtValue]);
    await solver.cleanUp(t, signal());

    const big = 'b'.repeat(1000);
    const key = parseKeyString(`hmac-sha512:k512:${KEYS.k512.secret}`);
    const base = {
      server: { host: bind.address, port: bind.port },
      zone: 'example.test',
      key,
      timeoutMs: 5000,
      signal: signal(),
    };
    const added = await updateTxt({
      ...base,
      changes: [{ action: 'add', name: 'big.example.test', value: big, ttl: 60 }],
    });
    expect(added).toMatchObject({ transport: 'tcp', tcpReason: 'request-too-large' });
    expect(await txt('big.example.test')).toEqual([big]);
    await updateTxt({ ...base, changes: [{ action: 'delete', name: 'big.example.test', value: big, ttl: 0 }] });
    expect(await txt('big.example.test')).toEqual([]);
  });

  it('fails before any order when the key file is unreadable or malformed', async () => {
    const missing = solverFor({ nsupdateKeyFile: join(scratch, 'missing.key') });
    await expect(missing.prepare?.({ identifiers: [], types: ['dns-01'] }, signal())).rejects.toThrow(LocalError);
    const broken = solverFor({
      nsupdateKeyFile: await writeKeyFile('broken.key', 'key "k" { algorithm hmac-sha256; };'),
    });
    await expect(broken.prepare?.({ identifiers: [], types: ['dns-01'] }, signal())).rejects.toThrow(UsageError);
  });
});

describe('DNS propagation check against BIND', () => {
  const key = (): ReturnType<typeof parseKeyString> => parseKeyString(`k256:${KEYS.k256.secret}`);

  it('asks the zone authoritative servers found through NS (no --dns-resolver)', async () => {
    const name = '_acme-challenge.auth.example.test';
    const value = `auth-${Date.now()}`;
    const base = {
      server: { host: bind.address, port: bind.port },
      zone: 'example.test',
      key: key(),
      timeoutMs: 5000,
      signal: signal(),
    };
    await updateTxt({ ...base, changes: [{ action: 'add', name, value, ttl: 60 }] });
    const log = collectingLogger();
    const result = await waitForTxtRecord({
      recordName: name,
      values: [value],
      settings: { ...DEFAULT_DNS01_SETTINGS, propagationTimeoutMs: 5000 },
      signal: signal(),
      log,
      resolver: new DnsLookup({ servers: [server] }),
      authoritativePort: bind.port,
      pollIntervalMs: 100,
    });
    expect(result).toMatchObject({ mode: 'checked', servers: ['ns.example.test (127.0.0.1)'], polls: 1 });
    timings.push(`authoritative propagation check (SOA walk + NS + A + TXT) ${result.elapsedMs} ms`);
    await updateTxt({ ...base, changes: [{ action: 'delete', name, value, ttl: 0 }] });
  });

  it('waits for a value that appears later', async () => {
    const name = '_acme-challenge.later.example.test';
    const value = `later-${Date.now()}`;
    const base = {
      server: { host: bind.address, port: bind.port },
      zone: 'example.test',
      key: key(),
      timeoutMs: 5000,
      signal: signal(),
    };
    // The value is added once the first poll has been answered without it: the check must go on
    // polling and return on the poll that sees it.
    const answers: string[][] = [];
    const realTxt = Object.getOwnPropertyDescriptor(DnsLookup.prototype, 'txt')?.value as (
      this: DnsLookup,
      ...args: Parameters<DnsLookup['txt']>
    ) => Promise<string[]>;
    const txtSpy = vi.spyOn(DnsLookup.prototype, 'txt').mockImplementation(async function (this: DnsLookup, ...args) {
      const seen = await realTxt.apply(this, args);
      answers.push(seen);
      if (answers.length === 1) await updateTxt({ ...base, changes: [{ action: 'add', name, value, ttl: 60 }] });
      return seen;
    });
    try {
      const result = await waitForTxtRecord({
        recordName: name,
        values: [value],
        settings: dns01({ propagationTimeoutMs: 5000 }),
        signal: signal(),
        log: collectingLogger(),
        pollIntervalMs: 100,
      });
      expect(answers).toEqual([[], [value]]);
      expect(result).toMatchObject({ mode: 'checked', polls: 2 });
    } finally {
      txtSpy.mockRestore();
    }
    await updateTxt({ ...base, changes: [{ action: 'delete', name, value, ttl: 0 }] });
  });

  it('gives up naming the record, the missing values and the server', async () => {
    const timeoutMs = 700;
    const pollIntervalMs = 100;
    const txtSpy = vi.spyOn(DnsLookup.prototype, 'txt');
    try {
      await expect(
        waitForTxtRecord({
          recordName: '_acme-challenge.never.example.test',
          values: ['never-1', 'never-2'],
          settings: dns01({ propagationTimeoutMs: timeoutMs }),
          signal: signal(),
          log: collectingLogger(),
          pollIntervalMs,
        }),
      ).rejects.toThrow(
        new RegExp(
          `gave up after \\d+ s: TXT _acme-challenge.never.example.test is still missing "never-1", "never-2" on 127.0.0.1:${bind.port}`,
        ),
      );
      // It stops at its deadline: one poll per interval at most (the first at once, and one more
      // for a timer that fires on the loop's cached clock, a little before the interval by Date.now).
      expect(txtSpy.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(txtSpy.mock.calls.length).toBeLessThanOrEqual(timeoutMs / pollIntervalMs + 2);
    } finally {
      txtSpy.mockRestore();
    }
  });
});
