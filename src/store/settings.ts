/**
 * Two text formats acmecli reads: `renewal.json` (what `renew` needs to repeat an issuance,
 * written by acmecli, versioned) and `config.ini` (defaults written by the user, certbot's
 * `cli.ini` habit). Both fail with a LocalError that names the file and the field or line.
 */
import { readFile } from './fs.js';
import type { Identifier } from '../acme/types.js';
import { LocalError } from '../errors.js';
import { codeOf, localErrorFor } from './atomic-write.js';

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

export function serializeRenewalSettings(settings: RenewalSettings): string {
  return `${JSON.stringify(settings, null, 2)}\n`;
}

/** Parses and type-checks `renewal.json`; `source` (the path) is named in every error. */
export function parseRenewalSettings(text: string, source: string): RenewalSettings {
  let value: unknown;
  try {
    value = JSON.parse(stripBom(text));
  } catch (error) {
    const why = text.trim() === '' ? 'the file is empty' : 'not valid JSON (truncated or hand-edited?)';
    throw new LocalError(`${source}: ${why}`, { cause: error });
  }
  const v = new Validator(source);
  const root = v.object(value, '');
  if (root.version !== RENEWAL_SETTINGS_VERSION) {
    throw new LocalError(
      `${source}: field "version" ${root.version === undefined ? 'is missing' : `is ${JSON.stringify(root.version)}`}, this acmecli reads version ${RENEWAL_SETTINGS_VERSION}`,
      typeof root.version === 'number' && root.version > RENEWAL_SETTINGS_VERSION
        ? { hint: 'it was written by a newer acmecli' }
        : {},
    );
  }
  const identifiers = v.array(root.identifiers, 'identifiers').map((item, index) => {
    const path = `identifiers[${index}]`;
    const obj = v.object(item, path);
    if (obj.type !== 'dns' && obj.type !== 'ip') v.fail(`${path}.type`, 'must be "dns" or "ip"');
    return { type: obj.type as Identifier['type'], value: v.string(obj.value, `${path}.value`) };
  });
  if (identifiers.length === 0) v.fail('identifiers', 'must list at least one identifier');
  const settings: RenewalSettings = {
    ...root,
    version: RENEWAL_SETTINGS_VERSION,
    server: v.string(root.server, 'server'),
    account: v.string(root.account, 'account'),
    identifiers,
    keyType: v.string(root.keyType, 'keyType'),
    reuseKey: v.boolean(root.reuseKey, 'reuseKey'),
    plugin: v.string(root.plugin, 'plugin'),
    pluginSettings: v.object(root.pluginSettings, 'pluginSettings'),
  };
  if (root.preferredChallenges !== undefined) {
    settings.preferredChallenges = v
      .array(root.preferredChallenges, 'preferredChallenges')
      .map((item, index) => v.string(item, `preferredChallenges[${index}]`));
  }
  for (const key of ['preferredChain', 'profile', 'reloadCommand', 'csrPath', 'caBundle', 'clientCert', 'clientKey'] as const) {
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
  if (root.dns01 !== undefined) settings.dns01 = v.object(root.dns01, 'dns01');
  return settings;
}

class Validator {
  constructor(private readonly source: string) {}

  fail(field: string, why: string): never {
    const where = field === '' ? 'top level' : `field "${field}"`;
    throw new LocalError(`${this.source}: ${where} ${why}`);
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(field, value === undefined ? 'is missing (must be an object)' : `must be an object, not ${describe(value)}`);
    }
    return value as Record<string, unknown>;
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) {
      this.fail(field, value === undefined ? 'is missing (must be a list)' : `must be a list, not ${describe(value)}`);
    }
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') {
      this.fail(field, value === undefined ? 'is missing (must be a string)' : `must be a string, not ${describe(value)}`);
    }
    return value;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') {
      this.fail(field, value === undefined ? 'is missing (must be true or false)' : `must be true or false, not ${describe(value)}`);
    }
    return value;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
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

/** Reads and parses a config file; a missing file is an error unless `missingOk`. */
export async function readConfigFile(
  path: string,
  options: { missingOk?: boolean } = {},
): Promise<ConfigValues> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (options.missingOk === true && codeOf(error) === 'ENOENT') return Object.create(null) as ConfigValues;
    throw localErrorFor('read', path, error);
  }
  return parseConfigFile(text, path);
}
