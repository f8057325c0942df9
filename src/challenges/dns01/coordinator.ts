/**
 * The one place dns-01 is coordinated, for every DNS plugin (lego's split between its dns01
 * package and its providers): the coordinator works out where each TXT value goes (CNAME chain or
 * `--challenge-alias`), keeps the values that share a name together (`example.com` and
 * `*.example.com` both answer at `_acme-challenge.example.com`), waits until every value at a name
 * is visible, and removes only what it added, once nothing needs it any more. A DNS plugin is a
 * `TxtRecordProvider`: it puts one TXT value at a name and takes it away, nothing else.
 */
import type { ChallengeTask, Dns01Task, Solver } from '../../acme/solver.js';
import { AbortedError, LocalError, PluginError, UsageError, messageOf, throwIfAborted } from '../../errors.js';
import type { PluginContext } from '../plugin.js';
import { challengeAliasName, resolveChallengeRecordName } from './cname.js';
import { DnsLookup, normalizeDnsName } from './lookup.js';
import { waitForTxtRecord, type WaitForTxtRecordOptions } from './propagation.js';

/** One TXT value added or removed, as the coordinator hands it to a provider. */
export interface TxtRecordChange {
  /** Where the value goes: the end of the CNAME chain or the alias name (see `followsCnames`). */
  name: string;
  value: string;
  /**
   * Every value of this run at `name` once this change is made, this one included after an add
   * and excluded after a remove. A provider whose API can only replace a whole record set writes
   * these (and deletes the set when none is left); one that adds and deletes single values ignores it.
   */
  values: readonly string[];
  /** What `zoneOf` answered for `name`, when the provider has it. */
  zone?: string;
  /** The challenge this value answers: hooks pass it on; most providers need only name and value. */
  task: Dns01Task;
}

/**
 * What a DNS plugin implements; `createDns01Solver` turns it into a Solver. A new DNS plugin is its
 * options, an API client and these two methods, for example:
 *
 *     const provider: TxtRecordProvider = {
 *       name: 'exampledns',
 *       add: ({ name, value }, signal) => api.createTxt(name, value, signal),
 *       remove: ({ name, value }, signal) => api.deleteTxt(name, value, signal),
 *     };
 *     createSolver: (options, context) => createDns01Solver(provider, context),
 *
 * The coordinator guarantees: `add` and `remove` get lowercase names without the trailing dot
 * (unless `followsCnames`), calls for one name never overlap (so `values` is what the name must
 * hold), a value shared by several challenges is added once and removed after the last of them,
 * and `remove` is called for every value whose `add` was attempted, unless `wroteNothing` says the
 * failed add left nothing behind. Errors that are not already PluginError, UsageError, LocalError
 * or AbortedError reach the user as PluginError (exit 4) naming the plugin and the record.
 */
export interface TxtRecordProvider {
  /** The plugin's name: the Solver's name and the prefix of its messages. */
  readonly name: string;
  /**
   * The provider is given `_acme-challenge.<name>` as the CA asks it (or the alias name) and
   * follows any CNAME itself, as certbot hook scripts do; the propagation check still follows it.
   * Absent: the coordinator follows the chain and gives the provider its end.
   */
  readonly followsCnames?: boolean;
  add(change: TxtRecordChange, signal: AbortSignal): Promise<void>;
  remove(change: TxtRecordChange, signal: AbortSignal): Promise<void>;
  /**
   * The zone that holds `name`, when the provider has to know it anyway (dynamic updates go to a
   * zone). Called before `add`, so a failure here needs no clean-up; the propagation check then
   * asks this zone's name servers without looking it up again. May check that the provider can
   * write there.
   */
  zoneOf?(name: string, signal: AbortSignal): Promise<string>;
  /** True when a failed `add` certainly wrote nothing (the server refused it): no clean-up then. */
  wroteNothing?(error: unknown): boolean;
}

/** Test and embedding seams; the CLI uses none of them. */
export interface Dns01SolverOptions {
  /** For CNAME, zone and name-server look-ups. Default: `--dns-resolver` servers, else the system's. */
  lookup?: DnsLookup;
  /** Port of the zone's authoritative servers during the propagation check (53). */
  authoritativePort?: number;
  pollIntervalMs?: number;
}

/** A value at a name, and how many challenges (same record name and value) need it. */
interface PublishedValue {
  users: number;
  /** The first challenge's `present`; a second one that needs the same value awaits it. */
  presented: Promise<void>;
  /** Set once the name (and zone) is known, just before the provider's `add`. */
  change?: TxtRecordChange;
  /** Lowercase `change.name`: what values are grouped by. */
  nameKey?: string;
  /** The provider's `add` was called: the value is (or may be) at the name. */
  written?: true;
}

/** `present`, `waitUntilVisible` and `cleanUp` always exist on a dns-01 Solver. */
export type Dns01Solver = Solver & Required<Pick<Solver, 'waitUntilVisible'>>;

function asDns01(task: ChallengeTask, plugin: string): Dns01Task {
  if (task.type !== 'dns-01') {
    throw new PluginError(`the ${plugin} plugin solves dns-01 only, not ${task.type} (${task.identifier.value})`);
  }
  return task;
}

/** Two challenges with the same record name and value need the same record. */
function valueKey(task: Dns01Task): string {
  return `${normalizeDnsName(task.recordName)}\n${task.txtValue}`;
}

export function createDns01Solver(
  provider: TxtRecordProvider,
  context: Pick<PluginContext, 'log' | 'dns01'>,
  options: Dns01SolverOptions = {},
): Dns01Solver {
  const { log } = context;
  const settings = context.dns01;
  const published = new Map<string, PublishedValue>();
  /** Where the CA really reads each record name (CNAME chain or alias), memoized. */
  const effectiveNames = new Map<string, Promise<string>>();
  /** One propagation check per name and value set, shared by the challenges that need it. */
  const checks = new Map<string, Promise<unknown>>();
  /** The provider call in progress per name: the next one for that name waits for it. */
  const queues = new Map<string, Promise<void>>();
  let defaultLookup: DnsLookup | undefined;

  const lookup = (): DnsLookup =>
    options.lookup ?? (defaultLookup ??= new DnsLookup(settings.resolvers ? { servers: settings.resolvers } : {}));

  /** Errors that already carry their meaning pass; anything else is this plugin's failure. */
  const asPluginError = (error: unknown, what: string, signal: AbortSignal): unknown => {
    if (signal.aborted && !(error instanceof AbortedError)) return new AbortedError('cancelled', { cause: error });
    if (
      error instanceof PluginError ||
      error instanceof UsageError ||
      error instanceof LocalError ||
      error instanceof AbortedError
    ) {
      return error;
    }
    return new PluginError(`${provider.name}: ${what} failed: ${messageOf(error)}`, { cause: error });
  };

  const providerCall = async <T>(what: string, signal: AbortSignal, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw asPluginError(error, what, signal);
    }
  };

  const serially = (nameKey: string, work: () => Promise<void>): Promise<void> => {
    const run = (queues.get(nameKey) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    queues.set(nameKey, settled);
    void settled.then(() => {
      if (queues.get(nameKey) === settled) queues.delete(nameKey);
    });
    return run;
  };

  const valuesAt = (nameKey: string): string[] =>
    [...published.values()].flatMap((p) => (p.written && p.nameKey === nameKey && p.change ? [p.change.value] : []));

  const effectiveName = (recordName: string, signal: AbortSignal): Promise<string> => {
    const key = normalizeDnsName(recordName);
    let name = effectiveNames.get(key);
    if (name === undefined) {
      name = resolveChallengeRecordName(recordName, settings, lookup(), signal);
      effectiveNames.set(key, name);
      name.catch(() => effectiveNames.delete(key));
    }
    return name;
  };

  /** Where the provider writes; no look-up for a provider that follows CNAMEs itself. */
  const writeName = async (task: Dns01Task, signal: AbortSignal): Promise<string> => {
    if (provider.followsCnames) return challengeAliasName(settings) ?? task.recordName;
    const name = await effectiveName(task.recordName, signal);
    if (name !== normalizeDnsName(task.recordName)) {
      log.info(`${provider.name}: ${task.recordName} is delegated to ${name}`);
    }
    return name;
  };

  /** Where the CA reads the value, which the propagation check must see. */
  const checkName = (change: TxtRecordChange, signal: AbortSignal): Promise<string> =>
    provider.followsCnames
      ? effectiveName(change.task.recordName, signal)
      : Promise.resolve(normalizeDnsName(change.name));

  const publish = async (key: string, entry: PublishedValue, task: Dns01Task, signal: AbortSignal): Promise<void> => {
    let change: TxtRecordChange;
    try {
      const name = await writeName(task, signal);
      const zone = await providerCall(`finding the zone of ${name}`, signal, async () =>
        provider.zoneOf?.(name, signal),
      );
      change = { name, value: task.txtValue, values: [], task };
      if (zone !== undefined) change.zone = zone;
    } catch (error) {
      published.delete(key); // nothing was written yet
      throw error;
    }
    const nameKey = normalizeDnsName(change.name);
    entry.change = change;
    entry.nameKey = nameKey;
    await serially(nameKey, async () => {
      throwIfAborted(signal);
      // From here on clean-up removes the value even if `add` fails: an answer lost may have landed.
      entry.written = true;
      try {
        await provider.add({ ...change, values: valuesAt(nameKey) }, signal);
      } catch (error) {
        if (provider.wroteNothing?.(error)) published.delete(key);
        throw asPluginError(error, `adding TXT ${change.name}`, signal);
      }
    });
  };

  return {
    name: provider.name,

    async present(task, signal) {
      const dns = asDns01(task, provider.name);
      throwIfAborted(signal);
      const key = valueKey(dns);
      const existing = published.get(key);
      if (existing !== undefined) {
        existing.users += 1;
        return existing.presented;
      }
      const entry: PublishedValue = { users: 1, presented: Promise.resolve() };
      published.set(key, entry);
      entry.presented = publish(key, entry, dns, signal);
      return entry.presented;
    },

    async waitUntilVisible(task, signal) {
      if (task.type !== 'dns-01') return;
      const entry = published.get(valueKey(task));
      if (entry?.change === undefined) return;
      const own = entry.change;
      // A plain delay or no check at all needs no look-up of where the record really lives.
      const checked = !settings.skipPropagationCheck && settings.propagationWaitMs === undefined;
      const recordName = checked ? await checkName(own, signal) : own.name;
      // Every value the CA will find at that name, not just this one: a resolver that shows one
      // of two values is not done yet.
      const values = new Set<string>();
      for (const { change, nameKey } of published.values()) {
        if (change === undefined) continue;
        const same = checked ? (await checkName(change, signal)) === recordName : nameKey === entry.nameKey;
        if (same) values.add(change.value);
      }
      const sorted = [...values].sort();
      const key = `${recordName}\n${sorted.join('\n')}`;
      let check = checks.get(key);
      if (check === undefined) {
        const request: WaitForTxtRecordOptions = {
          recordName,
          values: sorted,
          settings,
          signal,
          log,
          resolver: lookup(),
        };
        // The provider's zone is the zone of the name checked unless a CNAME leads elsewhere.
        if (checked && own.zone !== undefined && recordName === entry.nameKey) request.zone = own.zone;
        if (options.authoritativePort !== undefined) request.authoritativePort = options.authoritativePort;
        if (options.pollIntervalMs !== undefined) request.pollIntervalMs = options.pollIntervalMs;
        check = waitForTxtRecord(request);
        checks.set(key, check);
        // Let a later call retry after a failure instead of replaying the same rejection.
        check.catch(() => checks.delete(key));
      }
      await check;
    },

    async cleanUp(task, signal) {
      if (task.type !== 'dns-01') return;
      const key = valueKey(task);
      const entry = published.get(key);
      if (entry === undefined) {
        log.debug(`${provider.name}: nothing to clean up for ${task.recordName}`);
        return;
      }
      entry.users -= 1;
      if (entry.users > 0) return;
      published.delete(key);
      const { change, nameKey, written } = entry;
      if (!written || change === undefined || nameKey === undefined) return;
      await serially(nameKey, () =>
        providerCall(`removing TXT ${change.name}`, signal, () =>
          provider.remove({ ...change, values: valuesAt(nameKey) }, signal),
        ),
      );
    },
  };
}
