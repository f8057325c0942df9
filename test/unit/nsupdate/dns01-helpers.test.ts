/**
 * The dns-01 helpers shared by DNS plugins, against a scripted DnsLookup (the real-server checks
 * are in test/plugins/nsupdate.test.ts, against BIND).
 */
import { describe, expect, it, vi } from 'vitest';
import { AbortedError, PluginError, UsageError } from '../../../src/errors.js';
import { resolveChallengeRecordName } from '../../../src/challenges/dns01/cname.js';
import { DnsLookup, DnsLookupError, parseServerSpec, type SoaAnswer } from '../../../src/challenges/dns01/lookup.js';
import { waitForTxtRecord } from '../../../src/challenges/dns01/propagation.js';
import { DEFAULT_DNS01_SETTINGS, type Dns01Settings } from '../../../src/challenges/dns01/settings.js';
import { findZone } from '../../../src/challenges/dns01/zone.js';
import { silentLogger } from '../../../src/output/logger.js';

interface Script {
  cname?: Record<string, string>;
  soa?: Record<string, string>;
  errors?: Record<string, string>;
}

class ScriptedLookup extends DnsLookup {
  readonly asked: string[] = [];
  constructor(private readonly script: Script) {
    super({ servers: ['127.0.0.1:1'] });
  }
  #fail(type: string, name: string): void {
    this.asked.push(`${type} ${name}`);
    const code = this.script.errors?.[`${type} ${name}`];
    if (code) throw new DnsLookupError(`scripted ${code}`, code);
  }
  override async cname(name: string): Promise<string | undefined> {
    this.#fail('CNAME', name);
    return this.script.cname?.[name];
  }
  override async soa(name: string): Promise<SoaAnswer | undefined> {
    this.#fail('SOA', name);
    const mname = this.script.soa?.[name];
    return mname === undefined ? undefined : { nsname: mname, hostmaster: 'h', serial: 1, minttl: 1 };
  }
}

const signal = new AbortController().signal;
const settings: Dns01Settings = { ...DEFAULT_DNS01_SETTINGS };

describe('resolveChallengeRecordName', () => {
  it('returns the name itself when there is no CNAME', async () => {
    expect(
      await resolveChallengeRecordName('_acme-challenge.Example.com', settings, new ScriptedLookup({}), signal),
    ).toBe('_acme-challenge.example.com');
  });

  it('follows a CNAME chain to its end', async () => {
    const lookup = new ScriptedLookup({
      cname: {
        '_acme-challenge.www.example.com': 'hop.example.net',
        'hop.example.net': 'final.validation.example.org',
      },
    });
    expect(await resolveChallengeRecordName('_acme-challenge.www.example.com', settings, lookup, signal)).toBe(
      'final.validation.example.org',
    );
  });

  it('detects loops and over-long chains', async () => {
    const loop = new ScriptedLookup({ cname: { a: 'b', b: 'c', c: 'a' } });
    await expect(resolveChallengeRecordName('a', settings, loop, signal)).rejects.toThrow(
      'CNAME loop at a: a → b → c → a',
    );
    const long: Record<string, string> = {};
    for (let i = 0; i < 20; i++) long[`n${i}`] = `n${i + 1}`;
    await expect(
      resolveChallengeRecordName('n0', settings, new ScriptedLookup({ cname: long }), signal),
    ).rejects.toThrow(/more than 10 CNAMEs from n0/);
  });

  it('uses --challenge-alias as acme.sh does, without any lookup', async () => {
    const lookup = new ScriptedLookup({ cname: { '_acme-challenge.example.com': 'elsewhere.example' } });
    const aliased = { ...settings, challengeAlias: 'Validation.Example.NET.' };
    expect(await resolveChallengeRecordName('_acme-challenge.example.com', aliased, lookup, signal)).toBe(
      '_acme-challenge.validation.example.net',
    );
    expect(lookup.asked).toEqual([]);
  });

  it('passes lookup failures on as PluginErrors', async () => {
    const lookup = new ScriptedLookup({ errors: { 'CNAME _acme-challenge.x': 'ETIMEOUT' } });
    await expect(resolveChallengeRecordName('_acme-challenge.x', settings, lookup, signal)).rejects.toThrow(
      PluginError,
    );
  });
});

describe('findZone', () => {
  it('walks up until a SOA answers', async () => {
    const lookup = new ScriptedLookup({ soa: { 'example.com': 'ns1.example.com.' } });
    expect(await findZone('_acme-challenge.a.b.Example.com.', lookup, signal)).toEqual({
      zone: 'example.com',
      primaryNs: 'ns1.example.com',
    });
    expect(lookup.asked.filter((q) => q.startsWith('SOA'))).toEqual([
      'SOA _acme-challenge.a.b.example.com',
      'SOA a.b.example.com',
      'SOA b.example.com',
      'SOA example.com',
    ]);
  });

  it('does not take a CNAME for a zone apex', async () => {
    // A recursive resolver may answer a SOA query at an alias with the target zone's SOA.
    const lookup = new ScriptedLookup({
      soa: { 'www.example.com': 'ns.example.net', 'example.com': 'ns.example.com' },
      cname: { 'www.example.com': 'example.net' },
    });
    expect((await findZone('www.example.com', lookup, signal)).zone).toBe('example.com');
    const badresp = new ScriptedLookup({
      soa: { 'example.com': 'ns.example.com' },
      cname: { 'alias.example.com': 'target.example.net' },
      errors: { 'SOA alias.example.com': 'EBADRESP' },
    });
    expect((await findZone('alias.example.com', badresp, signal)).zone).toBe('example.com');
  });

  it('fails clearly on errors and when nothing answers', async () => {
    const failing = new ScriptedLookup({ errors: { 'SOA b.example.com': 'ESERVFAIL' } });
    await expect(findZone('a.b.example.com', failing, signal)).rejects.toThrow(
      /cannot find the DNS zone of a.b.example.com: scripted ESERVFAIL/,
    );
    await expect(findZone('x.invalid', new ScriptedLookup({}), signal)).rejects.toThrow(
      /no DNS zone found for x.invalid/,
    );
  });
});

describe('DnsLookup', () => {
  it.each([
    ['192.0.2.1', { host: '192.0.2.1' }],
    ['192.0.2.1:5353', { host: '192.0.2.1', port: 5353 }],
    ['[2001:db8::1]:53', { host: '2001:db8::1', port: 53 }],
    ['2001:db8::1', { host: '2001:db8::1' }],
    ['dns.example', { host: 'dns.example' }],
  ])('parses server %s', (spec, parsed) => {
    expect(parseServerSpec(spec)).toEqual(parsed);
  });

  it('rejects bad server specs at construction, naming the flag', () => {
    expect(() => new DnsLookup({ servers: ['1.2.3.4:x'] })).toThrow(UsageError);
    expect(() => new DnsLookup({ servers: ['1.2.3.4:x'] })).toThrow(/--dns-resolver "1.2.3.4:x"/);
    expect(() => new DnsLookup({ servers: ['2001:db8::1:99999x'] })).toThrow(/--dns-resolver/);
  });

  it('honours an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(new DnsLookup({ servers: ['127.0.0.1:9'] }).txt('x.test', controller.signal)).rejects.toThrow(
      AbortedError,
    );
  });
});

describe('waitForTxtRecord modes', () => {
  it('skips the check when told to', async () => {
    const result = await waitForTxtRecord({
      recordName: 'x',
      values: ['v'],
      settings: { ...settings, skipPropagationCheck: true },
      signal,
      log: silentLogger,
    });
    expect(result.mode).toBe('skipped');
  });

  it('waits a fixed time instead, and stops on abort', async () => {
    // Fake timers: the wait is measured on the clock it is scheduled on, not on a loaded machine's.
    vi.useFakeTimers();
    try {
      let settled = false;
      const waiting = waitForTxtRecord({
        recordName: 'x',
        values: ['v'],
        settings: { ...settings, propagationWaitMs: 150 },
        signal,
        log: silentLogger,
      }).finally(() => (settled = true));
      await vi.advanceTimersByTimeAsync(149);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toBe(true);
      expect(await waiting).toMatchObject({ mode: 'waited', elapsedMs: 150, polls: 0 });

      const controller = new AbortController();
      const aborted = waitForTxtRecord({
        recordName: 'x',
        values: ['v'],
        settings: { ...settings, propagationWaitMs: 60_000 },
        signal: controller.signal,
        log: silentLogger,
      });
      await vi.advanceTimersByTimeAsync(1000);
      controller.abort();
      await expect(aborted).rejects.toThrow(AbortedError);
      // The 60 s timer went with the abort.
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
