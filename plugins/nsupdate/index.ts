/**
 * `nsupdate`: dns-01 through RFC 2136 dynamic updates signed with TSIG (RFC 8945), the way
 * certbot-dns-rfc2136 and lego's rfc2136 provider do, with a native client (there is no nsupdate
 * binary on Windows).
 *
 * A TxtRecordProvider for the dns-01 coordinator (which follows CNAMEs, merges values and waits
 * for propagation): find the zone by SOA unless `--nsupdate-zone` says it, ADD one TXT value,
 * later delete exactly that value (class NONE, RFC 2136 2.5.4); other records at the name stay.
 *
 * Stored settings (renewals) never hold the secret. A key file is stored by absolute path. A key
 * given inline (`--nsupdate-key`, or ACMECLI_NSUPDATE_KEY) is stored as the reference
 * `nsupdateKeyEnv: "ACMECLI_NSUPDATE_KEY"`: a renewal then needs that variable set (the CLI feeds
 * plugin option variables into `parseOptions`, as on issue) and says so when it is missing.
 * For unattended renewals a key file is the better choice.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { Solver } from '../../src/acme/solver.js';
import {
  createDns01Solver,
  type Dns01SolverOptions,
  type TxtRecordChange,
  type TxtRecordProvider,
} from '../../src/challenges/dns01/coordinator.js';
import { DnsLookup, parseServerSpec } from '../../src/challenges/dns01/lookup.js';
import { findZone } from '../../src/challenges/dns01/zone.js';
import { definePlugin, type JsonObject, type PluginContext } from '../../src/challenges/plugin.js';
import { PluginError, UsageError, messageOf } from '../../src/errors.js';
import { parseKeyString, readBindKeyFile } from './bind-keyfile.js';
import { UpdateRejectedError, formatServer, resolveHost, updateTxt, type ServerAddress } from './client.js';
import { DnsMessageError, encodeName, isSubdomain, normalizeName } from './dns-message.js';
import type { TsigKey } from './tsig.js';
import { nsupdateSpec, NSUPDATE_KEY_ENV, DEFAULT_NSUPDATE_TTL, DEFAULT_NSUPDATE_TIMEOUT_SECONDS } from './spec.js';
export { NSUPDATE_KEY_ENV, DEFAULT_NSUPDATE_TTL, DEFAULT_NSUPDATE_TIMEOUT_SECONDS };

const MAX_TTL = 2_147_483_647;

export type NsupdateKeySource =
  /** A BIND key file, read in `prepare` (so a bad file fails before any order). */
  | { kind: 'file'; path: string; name?: string }
  /** `--nsupdate-key` / ACMECLI_NSUPDATE_KEY, already parsed. */
  | { kind: 'inline'; key: TsigKey }
  /** Unsigned updates, for servers that allow updates by address. */
  | { kind: 'none' };

export interface NsupdateOptions {
  server: ServerAddress;
  key: NsupdateKeySource;
  /** Lowercase, no trailing dot; absent: found through SOA. */
  zone?: string;
  ttl: number;
  timeoutMs: number;
}

/** Test and embedding seams; the CLI uses none of them. */
export interface NsupdateSolverDeps extends Dns01SolverOptions {
  /** `tcp` sends every update over TCP. */
  transport?: 'auto' | 'tcp';
}

// ---------------------------------------------------------------------------------------------
// Options

function rawString(raw: Readonly<Record<string, unknown>>, key: string, flag: string): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') throw new UsageError(`${flag} must be a string`);
  const trimmed = value.trim();
  if (trimmed === '') throw new UsageError(`${flag} is empty`);
  return trimmed;
}

function rawNumber(
  raw: Readonly<Record<string, unknown>>,
  key: string,
  flag: string,
  check: { integer: boolean; min: number; max: number },
): number | undefined {
  const text = rawString(raw, key, flag);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(value) || (check.integer && !Number.isInteger(value))) {
    throw new UsageError(`${flag} must be ${check.integer ? 'a whole number' : 'a number'} of seconds, got "${text}"`);
  }
  if (value < check.min || value > check.max) {
    throw new UsageError(`${flag} must be between ${check.min} and ${check.max} seconds, got ${text}`);
  }
  return value;
}

function parseZone(text: string): string {
  const zone = normalizeName(text);
  try {
    if (zone === '.') throw new DnsMessageError('the root zone');
    encodeName(zone);
  } catch (error) {
    throw new UsageError(`--nsupdate-zone "${text}" is not a valid zone name (${messageOf(error)})`);
  }
  return zone;
}

export function parseNsupdateOptions(raw: Readonly<Record<string, unknown>>): NsupdateOptions {
  const serverText = rawString(raw, 'nsupdateServer', '--nsupdate-server');
  if (serverText === undefined) {
    throw new UsageError(
      'the nsupdate plugin needs --nsupdate-server <host[:port]> (the DNS server accepting updates)',
    );
  }
  const parsed = parseServerSpec(serverText, '--nsupdate-server');
  const server: ServerAddress = { host: parsed.host, port: parsed.port ?? 53 };

  const keyFile = rawString(raw, 'nsupdateKeyFile', '--nsupdate-key-file');
  // Never echo this one: it holds the secret.
  const keyValue = raw['nsupdateKey'];
  const inline = typeof keyValue === 'string' && keyValue.trim() !== '' ? keyValue : undefined;
  if (keyValue !== undefined && keyValue !== null && typeof keyValue !== 'string') {
    throw new UsageError('--nsupdate-key must be a string');
  }
  const keyName = rawString(raw, 'nsupdateKeyName', '--nsupdate-key-name');
  const keyEnv = rawString(raw, 'nsupdateKeyEnv', 'nsupdateKeyEnv (stored settings)');
  if (keyEnv !== undefined && keyEnv !== NSUPDATE_KEY_ENV) {
    throw new UsageError(`stored setting nsupdateKeyEnv must be ${NSUPDATE_KEY_ENV}, got "${keyEnv}"`);
  }

  let key: NsupdateKeySource;
  if (keyFile !== undefined && inline !== undefined) {
    throw new UsageError(`give either --nsupdate-key-file or --nsupdate-key (or ${NSUPDATE_KEY_ENV}), not both`);
  } else if (keyFile !== undefined) {
    if (keyEnv !== undefined) throw new UsageError('stored settings name both a key file and nsupdateKeyEnv');
    // Absolute, so that a renewal started from another directory (cron) finds the same file.
    const path = isAbsolute(keyFile) ? keyFile : resolvePath(keyFile);
    key = keyName === undefined ? { kind: 'file', path } : { kind: 'file', path, name: keyName };
  } else if (inline !== undefined) {
    if (keyName !== undefined) {
      throw new UsageError(
        '--nsupdate-key-name selects a key inside --nsupdate-key-file; --nsupdate-key names its key itself',
      );
    }
    key = { kind: 'inline', key: parseKeyString(inline, '--nsupdate-key') };
  } else if (keyEnv !== undefined) {
    throw new UsageError(
      `the renewal settings take the TSIG key from the environment variable ${NSUPDATE_KEY_ENV}, which is not set`,
      { hint: `set ${NSUPDATE_KEY_ENV}=[algorithm:]name:secret, or issue again with --nsupdate-key-file` },
    );
  } else {
    if (keyName !== undefined) throw new UsageError('--nsupdate-key-name needs --nsupdate-key-file');
    key = { kind: 'none' };
  }

  const zoneText = rawString(raw, 'nsupdateZone', '--nsupdate-zone');
  const ttl =
    rawNumber(raw, 'nsupdateTtl', '--nsupdate-ttl', { integer: true, min: 0, max: MAX_TTL }) ?? DEFAULT_NSUPDATE_TTL;
  const timeoutSeconds =
    rawNumber(raw, 'nsupdateTimeout', '--nsupdate-timeout', { integer: false, min: 1, max: 3600 }) ??
    DEFAULT_NSUPDATE_TIMEOUT_SECONDS;
  const options: NsupdateOptions = { server, key, ttl, timeoutMs: Math.round(timeoutSeconds * 1000) };
  if (zoneText !== undefined) options.zone = parseZone(zoneText);
  return options;
}

export function nsupdateSettings(options: NsupdateOptions): JsonObject {
  const settings: JsonObject = {
    nsupdateServer: formatServer(options.server),
    nsupdateTtl: options.ttl,
    nsupdateTimeout: options.timeoutMs / 1000,
  };
  if (options.key.kind === 'file') {
    settings['nsupdateKeyFile'] = options.key.path;
    if (options.key.name !== undefined) settings['nsupdateKeyName'] = options.key.name;
  } else if (options.key.kind === 'inline') {
    // The secret stays out of the settings file: only where to find it again.
    settings['nsupdateKeyEnv'] = NSUPDATE_KEY_ENV;
  }
  if (options.zone !== undefined) settings['nsupdateZone'] = options.zone;
  return settings;
}

// ---------------------------------------------------------------------------------------------
// Solver

export function createNsupdateSolver(
  options: NsupdateOptions,
  context: PluginContext,
  deps: NsupdateSolverDeps = {},
): Solver {
  const { log } = context;
  const settings = context.dns01;
  const lookup = deps.lookup ?? new DnsLookup(settings.resolvers ? { servers: settings.resolvers } : {});
  const serverText = formatServer(options.server);
  let keyPromise: Promise<TsigKey | undefined> | undefined;
  const zones = new Map<string, Promise<string>>();

  const loadKey = (signal: AbortSignal): Promise<TsigKey | undefined> => {
    const source = options.key;
    if (source.kind === 'none') return Promise.resolve(undefined);
    if (source.kind === 'inline') return Promise.resolve(source.key);
    if (keyPromise === undefined) {
      const loading = readBindKeyFile(source.path, source.name, { signal });
      keyPromise = loading;
      // A failed read (e.g. aborted) may be retried by a later call.
      loading.catch(() => {
        if (keyPromise === loading) keyPromise = undefined;
      });
    }
    return keyPromise;
  };

  // Without --dns-resolver the update server is asked for the zone first, as certbot's rfc2136
  // plugin does: it is authoritative for what it accepts updates for, also for zones the public
  // DNS does not know (internal names, test set-ups); the system resolver is the fallback.
  const updateServerLookup =
    settings.resolvers || deps.lookup ? undefined : lookup.withServers([formatServer(options.server)]);
  const findUpdateZone = async (name: string, signal: AbortSignal): Promise<string> => {
    if (updateServerLookup) {
      try {
        return (await findZone(name, updateServerLookup, signal)).zone;
      } catch (error) {
        log.debug(
          `nsupdate: ${serverText} did not say which zone holds ${name} (${messageOf(error)}); asking the system resolver`,
        );
      }
    }
    return (await findZone(name, lookup, signal)).zone;
  };

  const zoneOf = (name: string, signal: AbortSignal): Promise<string> => {
    if (options.zone !== undefined) return Promise.resolve(options.zone);
    let zone = zones.get(name);
    if (zone === undefined) {
      zone = findUpdateZone(name, signal);
      zones.set(name, zone);
      zone.catch(() => zones.delete(name));
    }
    return zone;
  };

  const send = async (change: TxtRecordChange, action: 'add' | 'delete', signal: AbortSignal) =>
    updateTxt({
      server: options.server,
      zone: change.zone ?? (await zoneOf(change.name, signal)),
      changes: [{ action, name: change.name, value: change.value, ttl: action === 'add' ? options.ttl : 0 }],
      key: await loadKey(signal),
      timeoutMs: options.timeoutMs,
      signal,
      log,
      transport: deps.transport ?? 'auto',
    });

  // Adding (never replacing) lets the values of a wildcard and its apex, which share a name,
  // coexist; deleting exactly one value (class NONE) leaves every other record at the name.
  const provider: TxtRecordProvider = {
    name: 'nsupdate',
    async zoneOf(name, signal) {
      const zone = await zoneOf(name, signal);
      if (!isSubdomain(name, zone)) {
        throw new PluginError(`nsupdate: ${name} is not inside zone ${zone}`, {
          hint: 'check --nsupdate-zone (it must hold the _acme-challenge record or its CNAME target)',
        });
      }
      return zone;
    },
    async add(change, signal) {
      const result = await send(change, 'add', signal);
      log.info(
        `nsupdate: added TXT ${change.name} in zone ${change.zone} (${result.transport.toUpperCase()}, ${result.elapsedMs} ms)`,
      );
    },
    async remove(change, signal) {
      await send(change, 'delete', signal);
      log.debug(`nsupdate: deleted TXT ${change.name} in zone ${change.zone}`);
    },
    // The server said no: nothing was written, so there is nothing for clean-up to remove.
    wroteNothing: (error) => error instanceof UpdateRejectedError,
  };

  return {
    ...createDns01Solver(provider, context, deps),

    async prepare(_plan, signal) {
      const key = await loadKey(signal);
      await resolveHost(options.server, signal);
      if (key === undefined) log.info(`nsupdate: no TSIG key given; sending unsigned updates to ${serverText}`);
      else log.debug(`nsupdate: using TSIG key ${key} with ${serverText}`);
      if (options.key.kind === 'inline') {
        log.info(
          `nsupdate: the TSIG key is not stored; renewals will read it from ${NSUPDATE_KEY_ENV} (or use --nsupdate-key-file)`,
        );
      }
    },
  };
}

export const nsupdatePlugin = definePlugin<NsupdateOptions>({
  ...nsupdateSpec,
  parseOptions: parseNsupdateOptions,
  createSolver: (options, context) => createNsupdateSolver(options, context),
  toSettings: nsupdateSettings,
});
