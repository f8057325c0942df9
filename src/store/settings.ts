/**
 * Two text formats acmecli reads: `renewal.json` (what `renew` needs to repeat an issuance,
 * written by acmecli, versioned) and `config.ini` (defaults written by the user, certbot's
 * `cli.ini` habit). Both fail with a LocalError that names the file and the field or line.
 */
import type { Identifier } from '../acme/types.js';
import { parseIdentifier } from '../crypto/identifiers.js';
import { LocalError } from '../errors.js';
import { RENEWAL_FILE } from './layout.js';
import { FieldChecker, parseStored, serializeStored, stripBom, UNCHANGED, type StoredFormat } from './stored-json.js';
import { readTrustedFile } from './trust.js';

/** renewal.json's format; a file without the field is version 0, whose fields are version 1's. */
export const RENEWAL_SETTINGS_VERSION = 1;

export interface ExtraFiles {
  certFile?: string;
  keyFile?: string;
  chainFile?: string;
  fullchainFile?: string;
}

/**
 * Stored beside each certificate. Secrets are stored by file reference only (a TSIG key file, a
 * client key path), never inline; the EAB HMAC key is never stored at all.
 */
export interface RenewalSettings {
  version: typeof RENEWAL_SETTINGS_VERSION;
  /** ACME directory URL. */
  server: string;
  /** Account name under accounts/<serverKey>/. */
  account: string;
  identifiers: Identifier[];
  /** e.g. `ec-p256`, `rsa-2048`; interpreted by crypto/. */
  keyType: string;
  reuseKey: boolean;
  plugin: string;
  /** What the plugin's `toSettings` returned. */
  pluginSettings: Record<string, unknown>;
  preferredChallenges?: string[];
  preferredChain?: string;
  profile?: string;
  reloadCommand?: string;
  extraFiles?: ExtraFiles;
  csrPath?: string;
  caBundle?: string;
  clientCert?: string;
  clientKey?: string;
  dns01?: Record<string, unknown>;
  /** Fields written by a newer acmecli of the same version are kept, not rejected. */
  [extra: string]: unknown;
}

/**
 * The text of `renewal.json` for `settings`, in the current format version; LocalError naming
 * `source` and the field for settings parseRenewalSettings would refuse.
 */
export function serializeRenewalSettings(settings: RenewalSettings, source: string = RENEWAL_FILE): string {
  return serializeStored(RENEWAL_SETTINGS_FORMAT, settings, source);
}

/**
 * Parses and checks `renewal.json`; `source` (the path) is named in every error. What it holds
 * becomes an order, a CSR, file paths and a command line run as root, so every field gets the
 * checks its command-line option gets (names as `-d` checks them, the account name as
 * `--account`), or the type the writer gives it where the value is checked only when used (the
 * key type, the plugin and its options: renew checks those and names this file and the field).
 */
export function parseRenewalSettings(text: string, source: string): RenewalSettings {
  return parseStored(RENEWAL_SETTINGS_FORMAT, text, source);
}

export const RENEWAL_SETTINGS_FORMAT: StoredFormat<RenewalSettings> = {
  version: RENEWAL_SETTINGS_VERSION,
  migrations: { 0: UNCHANGED },
  check: checkRenewalSettings,
};

function checkRenewalSettings(root: Record<string, unknown>, v: FieldChecker): RenewalSettings {
  const identifiers = v.array(root.identifiers, 'identifiers').map((item, index) => {
    const path = `identifiers[${index}]`;
    const obj = v.object(item, path);
    if (obj.type !== 'dns' && obj.type !== 'ip') v.fail(`${path}.type`, 'must be "dns" or "ip"');
    const text = v.string(obj.value, `${path}.value`);
    const identifier = parseIdentifier(text, (input, why) =>
      v.fail(`${path}.value`, `is not a valid name: ${JSON.stringify(input)}: ${why}`),
    );
    if (identifier.type !== obj.type)
      v.fail(`${path}.value`, `is not ${obj.type === 'ip' ? 'an IP address' : 'a DNS name'}: ${JSON.stringify(text)}`);
    return identifier;
  });
  if (identifiers.length === 0) v.fail('identifiers', 'must list at least one identifier');
  const settings: RenewalSettings = {
    ...root,
    version: RENEWAL_SETTINGS_VERSION,
    server: v.url(root.server, 'server'),
    account: v.accountName(root.account, 'account'),
    identifiers,
    keyType: v.string(root.keyType, 'keyType'),
    reuseKey: v.boolean(root.reuseKey, 'reuseKey'),
    plugin: v.string(root.plugin, 'plugin'),
    pluginSettings: v.object(root.pluginSettings, 'pluginSettings'),
  };
  for (const [name, options] of Object.entries(settings.pluginSettings)) v.object(options, `pluginSettings.${name}`);
  if (root.preferredChallenges !== undefined) {
    settings.preferredChallenges = v
      .array(root.preferredChallenges, 'preferredChallenges')
      .map((item, index) => v.string(item, `preferredChallenges[${index}]`));
  }
  for (const key of [
    'preferredChain',
    'profile',
    'reloadCommand',
    'csrPath',
    'caBundle',
    'clientCert',
    'clientKey',
  ] as const) {
    if (root[key] !== undefined) settings[key] = v.string(root[key], key);
  }
  if (root.extraFiles !== undefined) {
    const extra = v.object(root.extraFiles, 'extraFiles');
    const files: ExtraFiles = {};
    for (const key of ['certFile', 'keyFile', 'chainFile', 'fullchainFile'] as const) {
      if (extra[key] !== undefined) files[key] = v.string(extra[key], `extraFiles.${key}`);
    }
    settings.extraFiles = files;
  }
  if (root.dns01 !== undefined) settings.dns01 = parseDns01(v, v.object(root.dns01, 'dns01'));
  return settings;
}

/** The dns-01 settings as issue writes them (Dns01Settings): only known keys, each of its type. */
function parseDns01(v: FieldChecker, stored: Record<string, unknown>): Record<string, unknown> {
  const dns01: Record<string, unknown> = {};
  if (stored.challengeAlias !== undefined) {
    const alias = v.string(stored.challengeAlias, 'dns01.challengeAlias');
    dns01.challengeAlias = parseIdentifier(alias, (input, why) =>
      v.fail('dns01.challengeAlias', `is not a valid zone: ${JSON.stringify(input)}: ${why}`),
    ).value;
  }
  if (stored.resolvers !== undefined) {
    dns01.resolvers = v
      .array(stored.resolvers, 'dns01.resolvers')
      .map((item, index) => v.string(item, `dns01.resolvers[${index}]`));
  }
  if (stored.propagationTimeoutMs !== undefined)
    dns01.propagationTimeoutMs = v.milliseconds(stored.propagationTimeoutMs, 'dns01.propagationTimeoutMs');
  if (stored.propagationWaitMs !== undefined)
    dns01.propagationWaitMs = v.milliseconds(stored.propagationWaitMs, 'dns01.propagationWaitMs');
  if (stored.skipPropagationCheck !== undefined)
    dns01.skipPropagationCheck = v.boolean(stored.skipPropagationCheck, 'dns01.skipPropagationCheck');
  return dns01;
}

export type ConfigValues = Record<string, string | true>;

/**
 * certbot's `cli.ini` habit: `key = value` (or `key: value`), `flag` alone meaning true,
 * `#` / `;` comment lines, `[section]` headers ignored. Values are kept verbatim (no inline
 * comments: `#` inside a value is part of it). A repeated key: the last one wins. Keys are
 * returned as written; the caller reports unknown ones.
 */
export function parseConfigFile(text: string, source: string): ConfigValues {
  const values: ConfigValues = Object.create(null) as ConfigValues;
  const lines = stripBom(text).split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    if (/^\[[^\]]*\]$/.test(line)) return;
    const pair = /^([A-Za-z0-9][A-Za-z0-9_-]*)\s*[=:]\s*(.*)$/.exec(line);
    if (pair !== null) {
      values[pair[1] as string] = pair[2] as string;
      return;
    }
    if (/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(line)) {
      values[line] = true;
      return;
    }
    throw new LocalError(`${source}:${index + 1}: expected "key = value", a flag name or a # comment`);
  });
  return values;
}

/**
 * Reads and parses a config file, with the checks of trust.ts (another user's file, or one in a
 * directory another user can write, is refused, as is one over the size cap); a missing file is an
 * error unless `missingOk`.
 */
export async function readConfigFile(path: string, options: { missingOk?: boolean } = {}): Promise<ConfigValues> {
  const text = readTrustedFile(path);
  if (text === undefined) {
    if (options.missingOk === true) return Object.create(null) as ConfigValues;
    throw new LocalError(`cannot read ${path}: no such file or directory (ENOENT)`);
  }
  return parseConfigFile(text, path);
}
