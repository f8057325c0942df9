/**
 * The dns-01 coordinator with a recording fake provider (no DNS server): where values go, how
 * values that share a name are merged and removed, CNAME following through a scripted lookup,
 * what the propagation check is asked to wait for, and how provider errors reach the user. The
 * propagation check itself runs against BIND in test/plugins/nsupdate.test.ts; here it is a fake
 * that records its requests.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Dns01Task, Http01Task } from '../../../../src/acme/solver.js';
import {
  createDns01Solver,
  type TxtRecordChange,
  type TxtRecordProvider,
} from '../../../../src/challenges/dns01/coordinator.js';
import { DnsLookup } from '../../../../src/challenges/dns01/lookup.js';
import { DEFAULT_DNS01_SETTINGS, type Dns01Settings } from '../../../../src/challenges/dns01/settings.js';
import { AbortedError, ExitCode, PluginError, UsageError } from '../../../../src/errors.js';

const { waitForTxtRecord } = vi.hoisted(() => ({
  waitForTxtRecord: vi.fn(async (_request: { recordName: string; values: readonly string[]; zone?: string }) => ({
    mode: 'checked' as const,
    servers: [],
    elapsedMs: 0,
    polls: 1,
  })),
}));
vi.mock('../../../../src/challenges/dns01/propagation.js', () => ({ waitForTxtRecord }));

beforeEach(() => {
  waitForTxtRecord.mockClear();
});

/** A DnsLookup that answers CNAME queries from a table and asks no server. */
class FakeCnameLookup extends DnsLookup {
  readonly asked: string[] = [];
  constructor(private readonly cnames: Record<string, string> = {}) {
    super({ servers: ['127.0.0.1:1'] });
  }
  override async cname(name: string): Promise<string | undefined> {
    this.asked.push(name);
    return this.cnames[name];
  }
}

type Call = { op: 'add' | 'remove'; name: string; value: string; values: readonly string[]; zone?: string };

/** Records every call and keeps the resulting TXT values per name, as a DNS server would. */
class FakeProvider implements TxtRecordProvider {
  readonly name = 'fake';
  readonly calls: Call[] = [];
  readonly records = new Map<string, string[]>();
  followsCnames?: boolean;
  fail?: (change: TxtRecordChange, op: 'add' | 'remove') => Error | undefined;
  wroteNothing?: (error: unknown) => boolean;
  zoneOf?: (name: string, signal: AbortSignal) => Promise<string>;

  async add(change: TxtRecordChange): Promise<void> {
    this.#record('add', change);
    const failure = this.fail?.(change, 'add');
    if (failure !== undefined) throw failure;
    this.records.set(change.name, [...(this.records.get(change.name) ?? []), change.value]);
  }

  async remove(change: TxtRecordChange): Promise<void> {
    this.#record('remove', change);
    const failure = this.fail?.(change, 'remove');
    if (failure !== undefined) throw failure;
    this.records.set(
      change.name,
      (this.records.get(change.name) ?? []).filter((v) => v !== change.value),
    );
  }

  #record(op: Call['op'], change: TxtRecordChange): void {
    const call: Call = { op, name: change.name, value: change.value, values: [...change.values] };
    if (change.zone !== undefined) call.zone = change.zone;
    this.calls.push(call);
  }
}

const identifiers = ['example.com', '*.example.com', 'www.example.com'];

function task(value: string, txtValue: string, wildcard = false): Dns01Task {
  return {
    type: 'dns-01',
    identifier: { type: 'dns', value },
    wildcard,
    token: `token-${txtValue}`,
    keyAuthorization: `token-${txtValue}.thumb`,
    recordName: `_acme-challenge.${value}`,
    txtValue,
    batch: { index: 0, total: identifiers.length, identifiers },
  };
}

function setUp(
  options: {
    provider?: FakeProvider;
    cnames?: Record<string, string>;
    dns01?: Partial<Dns01Settings>;
  } = {},
) {
  const provider = options.provider ?? new FakeProvider();
  const lookup = new FakeCnameLookup(options.cnames);
  const log = {
    debug: vi.fn<(message: string) => void>(),
    info: vi.fn<(message: string) => void>(),
    warn: vi.fn<(message: string) => void>(),
  };
  const solver = createDns01Solver(
    provider,
    { log, dns01: { ...DEFAULT_DNS01_SETTINGS, ...options.dns01 } },
    { lookup },
  );
  return { provider, lookup, log, solver };
}

const signal = new AbortController().signal;

/** Lets every pending promise callback run (the fakes involve no timers and no I/O). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('dns-01 coordinator with a fake provider: merging values under one name', () => {
  it('adds apex and wildcard values side by side, each add seeing every value at the name', async () => {
    const { provider, solver } = setUp();
    const apex = task('Example.com', 'apex');
    const wildcard = task('example.com', 'wild', true);
    await Promise.all([solver.present(apex, signal), solver.present(wildcard, signal)]);
    expect(provider.calls).toEqual([
      { op: 'add', name: '_acme-challenge.example.com', value: 'apex', values: ['apex'] },
      { op: 'add', name: '_acme-challenge.example.com', value: 'wild', values: ['apex', 'wild'] },
    ]);
    expect(provider.records.get('_acme-challenge.example.com')).toEqual(['apex', 'wild']);
  });

  it('never lets two calls for one name overlap', async () => {
    const events: string[] = [];
    const provider = new FakeProvider();
    const releases: Array<() => void> = [];
    const add = provider.add.bind(provider);
    provider.add = async (change) => {
      events.push(`start ${change.value}`);
      await new Promise<void>((resolve) => releases.push(resolve));
      await add(change);
      events.push(`end ${change.value}`);
    };
    const { solver } = setUp({ provider });
    const first = solver.present(task('example.com', 'a'), signal);
    const second = solver.present(task('example.com', 'b', true), signal);
    const other = solver.present(task('www.example.com', 'c'), signal);
    // Each add waits for its release; a name's second add may not start before the first ends.
    await turn();
    expect(events).toEqual(['start a', 'start c']);
    releases.shift()?.();
    await turn();
    expect(events).toEqual(['start a', 'start c', 'end a', 'start b']);
    releases.splice(0).forEach((release) => release());
    await Promise.all([first, second, other]);
    expect(events.indexOf('start b')).toBeGreaterThan(events.indexOf('end a'));
  });

  it('removes only its own value, and a shared value only after its last user', async () => {
    const { provider, solver, log } = setUp();
    provider.records.set('_acme-challenge.example.com', ['unrelated']);
    const apex = task('example.com', 'apex');
    const wildcard = task('example.com', 'wild', true);
    // The same record name and value from a second challenge (a reused pending authorization).
    const twin = { ...apex, batch: { ...apex.batch, index: 2 } };
    for (const t of [apex, wildcard, twin]) await solver.present(t, signal);
    expect(provider.calls.filter((c) => c.op === 'add').map((c) => c.value)).toEqual(['apex', 'wild']);

    await solver.cleanUp(apex, signal);
    expect(provider.calls.filter((c) => c.op === 'remove')).toEqual([]);
    await solver.cleanUp(twin, signal);
    expect(provider.calls.at(-1)).toEqual({
      op: 'remove',
      name: '_acme-challenge.example.com',
      value: 'apex',
      values: ['wild'],
    });
    expect(provider.records.get('_acme-challenge.example.com')).toEqual(['unrelated', 'wild']);
    await solver.cleanUp(wildcard, signal);
    expect(provider.calls.at(-1)).toMatchObject({ op: 'remove', value: 'wild', values: [] });
    expect(provider.records.get('_acme-challenge.example.com')).toEqual(['unrelated']);

    // A second clean-up, or one of a task never presented, sends nothing.
    const before = provider.calls.length;
    await solver.cleanUp(wildcard, signal);
    await solver.cleanUp(task('other.example', 'never'), signal);
    expect(provider.calls).toHaveLength(before);
    expect(log.debug).toHaveBeenCalledWith('fake: nothing to clean up for _acme-challenge.other.example');
  });
});

describe('dns-01 coordinator with a fake provider: CNAMEs and aliases', () => {
  const cnames = {
    '_acme-challenge.example.com': '_acme-challenge.hop.example.net.',
    '_acme-challenge.hop.example.net': '_acme-challenge.Validation.example.org',
    '_acme-challenge.www.example.com': '_acme-challenge.validation.example.org',
  };

  it('gives the provider the end of the CNAME chain, merges what meets there, and checks there', async () => {
    const { provider, solver, log, lookup } = setUp({ cnames });
    const tasks = [task('example.com', 'a'), task('example.com', 'b', true), task('www.example.com', 'c')];
    for (const t of tasks) await solver.present(t, signal);
    expect(provider.calls.map((c) => [c.name, c.values])).toEqual([
      ['_acme-challenge.validation.example.org', ['a']],
      ['_acme-challenge.validation.example.org', ['a', 'b']],
      ['_acme-challenge.validation.example.org', ['a', 'b', 'c']],
    ]);
    expect(log.info).toHaveBeenCalledWith(
      'fake: _acme-challenge.example.com is delegated to _acme-challenge.validation.example.org',
    );
    // Apex and wildcard share a record name: its chain is followed once.
    expect(lookup.asked.filter((name) => name === '_acme-challenge.example.com')).toHaveLength(1);

    await Promise.all(tasks.map((t) => solver.waitUntilVisible(t, signal)));
    expect(waitForTxtRecord).toHaveBeenCalledTimes(1);
    expect(waitForTxtRecord.mock.calls[0]?.[0]).toMatchObject({
      recordName: '_acme-challenge.validation.example.org',
      values: ['a', 'b', 'c'],
    });
  });

  it('gives a provider that follows CNAMEs itself the name as asked, and still checks at the target', async () => {
    const provider = new FakeProvider();
    provider.followsCnames = true;
    const { solver, lookup } = setUp({ provider, cnames });
    const tasks = [task('Example.com', 'a'), task('www.example.com', 'c')];
    for (const t of tasks) await solver.present(t, signal);
    expect(provider.calls.map((c) => c.name)).toEqual([
      '_acme-challenge.Example.com',
      '_acme-challenge.www.example.com',
    ]);
    expect(lookup.asked).toEqual([]);
    for (const t of tasks) await solver.waitUntilVisible(t, signal);
    expect(waitForTxtRecord).toHaveBeenCalledTimes(1);
    expect(waitForTxtRecord.mock.calls[0]?.[0]).toMatchObject({
      recordName: '_acme-challenge.validation.example.org',
      values: ['a', 'c'],
    });
  });

  it('writes every value at the alias name under --challenge-alias, without any look-up', async () => {
    for (const followsCnames of [false, true]) {
      const provider = new FakeProvider();
      provider.followsCnames = followsCnames;
      const { solver, lookup } = setUp({ provider, cnames, dns01: { challengeAlias: ' Alias.Example.NET. ' } });
      for (const t of [task('example.com', 'a'), task('www.example.com', 'c')]) await solver.present(t, signal);
      expect(provider.calls.map((c) => [c.name, c.values])).toEqual([
        ['_acme-challenge.alias.example.net', ['a']],
        ['_acme-challenge.alias.example.net', ['a', 'c']],
      ]);
      expect(lookup.asked).toEqual([]);
    }
  });

  it('turns a CNAME loop into a PluginError before anything is written', async () => {
    const { provider, solver } = setUp({
      cnames: { '_acme-challenge.loop.example': 'x.example', 'x.example': '_acme-challenge.loop.example' },
    });
    const t = task('loop.example', 'v');
    await expect(solver.present(t, signal)).rejects.toThrow(PluginError);
    await solver.cleanUp(t, signal);
    expect(provider.calls).toEqual([]);
  });
});

describe('dns-01 coordinator with a fake provider: propagation', () => {
  it('waits once per name for every value at it, not just the value of the task asking', async () => {
    const { solver } = setUp();
    const tasks = [task('example.com', 'wild', true), task('example.com', 'apex'), task('www.example.com', 'www')];
    for (const t of tasks) await solver.present(t, signal);
    await Promise.all(tasks.map((t) => solver.waitUntilVisible(t, signal)));
    expect(waitForTxtRecord.mock.calls.map(([request]) => [request.recordName, request.values])).toEqual([
      ['_acme-challenge.example.com', ['apex', 'wild']],
      ['_acme-challenge.www.example.com', ['www']],
    ]);
  });

  it("asks the provider's zone's servers, and lets a later call retry after a failed check", async () => {
    const provider = new FakeProvider();
    provider.zoneOf = async () => 'example.com';
    const { solver } = setUp({ provider });
    const t = task('example.com', 'v');
    await solver.present(t, signal);
    expect(provider.calls[0]?.zone).toBe('example.com');
    waitForTxtRecord.mockRejectedValueOnce(new PluginError('still missing "v"'));
    await expect(solver.waitUntilVisible(t, signal)).rejects.toThrow('still missing "v"');
    await solver.waitUntilVisible(t, signal);
    expect(waitForTxtRecord).toHaveBeenCalledTimes(2);
    expect(waitForTxtRecord.mock.calls[1]?.[0]).toMatchObject({
      recordName: '_acme-challenge.example.com',
      zone: 'example.com',
    });
  });

  it('looks nothing up when the check is skipped or a plain delay', async () => {
    for (const dns01 of [{ skipPropagationCheck: true }, { propagationWaitMs: 10 }]) {
      const provider = new FakeProvider();
      provider.followsCnames = true;
      const { solver, lookup } = setUp({
        provider,
        dns01,
        cnames: { '_acme-challenge.example.com': 'elsewhere.example' },
      });
      const t = task('example.com', 'v');
      await solver.present(t, signal);
      await solver.waitUntilVisible(t, signal);
      expect(lookup.asked).toEqual([]);
    }
    expect(waitForTxtRecord.mock.calls.map(([request]) => request.recordName)).toEqual([
      '_acme-challenge.example.com',
      '_acme-challenge.example.com',
    ]);
  });
});

describe('dns-01 coordinator with a fake provider: errors', () => {
  it('turns anything the provider throws into a PluginError (exit 4) naming the plugin and the record', async () => {
    const provider = new FakeProvider();
    provider.fail = (_change, op) => (op === 'add' ? new TypeError('socket hang up') : undefined);
    const { solver } = setUp({ provider });
    const t = task('example.com', 'v');
    const error = await solver.present(t, signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect((error as PluginError).exitCode).toBe(ExitCode.validation);
    expect((error as PluginError).message).toBe('fake: adding TXT _acme-challenge.example.com failed: socket hang up');
    expect((error as PluginError).cause).toBeInstanceOf(TypeError);
    // The failed add may have landed: clean-up removes the value.
    provider.fail = (_change, op) => (op === 'remove' ? new Error('gone') : undefined);
    await expect(solver.cleanUp(t, signal)).rejects.toThrow(
      'fake: removing TXT _acme-challenge.example.com failed: gone',
    );
    expect(provider.calls.map((c) => c.op)).toEqual(['add', 'remove']);
  });

  it('passes errors that carry their own meaning through unchanged', async () => {
    for (const thrown of [new PluginError('hook exited 1'), new UsageError('--x needs --y')]) {
      const provider = new FakeProvider();
      provider.fail = () => thrown;
      const { solver } = setUp({ provider });
      await expect(solver.present(task('example.com', 'v'), signal)).rejects.toBe(thrown);
    }
  });

  it('sends no clean-up for an add that certainly wrote nothing, or a zone that was not found', async () => {
    const refused = new PluginError('REFUSED');
    const provider = new FakeProvider();
    provider.fail = (change) => (change.value === 'refused' ? refused : undefined);
    provider.wroteNothing = (error) => error === refused;
    const { solver } = setUp({ provider });
    const t = task('example.com', 'refused');
    await expect(solver.present(t, signal)).rejects.toBe(refused);
    await solver.cleanUp(t, signal);
    expect(provider.calls.map((c) => c.op)).toEqual(['add']);

    const zoneless = new FakeProvider();
    zoneless.zoneOf = async (name) => {
      throw new Error(`no SOA above ${name}`);
    };
    const second = setUp({ provider: zoneless });
    const u = task('example.com', 'v');
    await expect(second.solver.present(u, signal)).rejects.toThrow(
      'fake: finding the zone of _acme-challenge.example.com failed: no SOA above _acme-challenge.example.com',
    );
    await second.solver.cleanUp(u, signal);
    expect(zoneless.calls).toEqual([]);
  });

  it('reports Ctrl-C as AbortedError, not as the provider failing', async () => {
    const controller = new AbortController();
    const provider = new FakeProvider();
    provider.fail = () => {
      controller.abort();
      return new Error('interrupted system call');
    };
    const { solver } = setUp({ provider });
    await expect(solver.present(task('example.com', 'v'), controller.signal)).rejects.toThrow(AbortedError);
  });

  it('refuses other challenge types', async () => {
    const { solver } = setUp();
    const http: Http01Task = {
      type: 'http-01',
      identifier: { type: 'dns', value: 'a.example' },
      wildcard: false,
      token: 't',
      path: '/.well-known/acme-challenge/t',
      keyAuthorization: 't.thumb',
      batch: { index: 0, total: 1, identifiers: ['a.example'] },
    };
    await expect(solver.present(http, signal)).rejects.toThrow(
      'the fake plugin solves dns-01 only, not http-01 (a.example)',
    );
  });
});
