import { writeFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { freeDnsPort } from './ports.js';
import { makeTempDir, removeTempDir, runCommand, startDaemon, waitUntil, type Daemon } from './processes.js';

const NAMED = '/usr/sbin/named';
const DIG = '/usr/bin/dig';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha1';

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  /** Base64. */
  secret: string;
}

export interface BindZone {
  /** e.g. 'example.test' (no trailing dot needed). */
  name: string;
  /** Extra zone-file lines, relative to the zone origin, e.g. `_acme-challenge.www CNAME _acme-challenge.other`. */
  records?: string[];
  /** Keys allowed to update this zone; every key of the instance when omitted. */
  updateKeys?: string[];
}

export interface BindOptions {
  zones: BindZone[];
  tsigKeys?: TsigKey[];
  port?: number;
  startTimeoutMs?: number;
  /** Keep the temp dir (config, zones, journal, log) after stop(); also with ACMECLI_KEEP_TESTBED=1. */
  keepTempDir?: boolean;
}

export interface BindHandle {
  readonly address: '127.0.0.1';
  readonly port: number;
  /** "127.0.0.1:PORT", e.g. for startPebble({ dnsServer }). */
  readonly dnsServer: string;
  readonly tempDir: string;
  readonly daemon: Daemon;
  /** A BIND key file (`key "name" { algorithm ...; secret "..."; };`) for nsupdate -k and the client. */
  keyFilePath(name: string): string;
  /** `dig +short` answer lines (TXT values keep dig's quoting). */
  query(name: string, type: string): Promise<string[]>;
  /** TXT values of `name`, each record's strings joined, unquoted. */
  queryTxt(name: string): Promise<string[]>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

const SAFE_NAME = /^[A-Za-z0-9._-]+$/;
// What named logs before exiting when another process holds its port.
const PORT_TAKEN = /unable to listen on any configured interfaces|address (already )?in use/i;

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function keyStatement(key: TsigKey): string {
  return `key "${key.name}" {\n  algorithm ${key.algorithm};\n  secret "${key.secret}";\n};\n`;
}

function zoneFile(zone: BindZone): string {
  const origin = `${stripDot(zone.name)}.`;
  return [
    `$ORIGIN ${origin}`,
    // Short TTLs: tests change records and nothing should serve stale answers for long.
    '$TTL 5',
    `@ IN SOA ns.${origin} hostmaster.${origin} 1 3600 600 86400 1`,
    `@ IN NS ns.${origin}`,
    'ns IN A 127.0.0.1',
    '@ IN A 127.0.0.1',
    // Lets Pebble resolve any http-01 / tls-alpn-01 name under the zone through this server too.
    '* IN A 127.0.0.1',
    ...(zone.records ?? []),
    '',
  ].join('\n');
}

function namedConf(dir: string, port: number, zones: BindZone[], keys: TsigKey[]): string {
  const zoneStatements = zones.map((zone) => {
    const names = zone.updateKeys ?? keys.map((key) => key.name);
    const allowUpdate = names.length
      ? `allow-update { ${names.map((name) => `key "${name}";`).join(' ')} };`
      : 'allow-update { none; };';
    return `zone "${stripDot(zone.name)}" {\n  type primary;\n  file "${stripDot(zone.name)}.zone";\n  ${allowUpdate}\n};`;
  });
  return `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  allow-query { any; };
  notify no;
  // Without this, a second named started on a port already in use by another test file would
  // share it (SO_REUSEPORT) and split the queries, instead of failing and being retried.
  reuseport no;
};
// No rndc channel: the default one (127.0.0.1:953) would clash between parallel instances.
controls { };
${keys.map(keyStatement).join('')}
${zoneStatements.join('\n')}
`;
}

/**
 * BIND 9 as an RFC 2136 target: primary zones on 127.0.0.1:PORT, updatable with the given TSIG
 * keys, started unprivileged (`-u bind` when run as root) in the foreground (`-g`, logs to stderr)
 * so stop() can kill it by its process group.
 */
export async function startBind(options: BindOptions): Promise<BindHandle> {
  const keys = options.tsigKeys ?? [];
  for (const zone of options.zones) {
    if (!SAFE_NAME.test(stripDot(zone.name))) throw new Error(`unsupported zone name ${JSON.stringify(zone.name)}`);
    for (const name of zone.updateKeys ?? []) {
      if (!keys.some((key) => key.name === name)) throw new Error(`zone ${zone.name}: no TSIG key named ${name}`);
    }
  }
  for (const key of keys) {
    if (!SAFE_NAME.test(key.name)) throw new Error(`unsupported TSIG key name ${JSON.stringify(key.name)}`);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBindOnce(options, keys);
    } catch (error) {
      // Another test file may take the free port between the pick and named's bind.
      const portTaken = error instanceof Error && PORT_TAKEN.test(error.message);
      if (attempt >= 3 || !portTaken || options.port !== undefined) throw error;
    }
  }
}

async function startBindOnce(options: BindOptions, keys: TsigKey[]): Promise<BindHandle> {
  const tempDir = await makeTempDir('bind');
  const keepTempDir = options.keepTempDir || process.env.ACMECLI_KEEP_TESTBED === '1';
  let daemon: Daemon | undefined;
  const cleanup = async (): Promise<void> => {
    try {
      await daemon?.stop();
    } finally {
      if (!keepTempDir) await removeTempDir(tempDir);
    }
  };

  try {
    const port = options.port ?? (await freeDnsPort());
    const confPath = join(tempDir, 'named.conf');
    await writeFile(confPath, namedConf(tempDir, port, options.zones, keys));
    for (const zone of options.zones) {
      await writeFile(join(tempDir, `${stripDot(zone.name)}.zone`), zoneFile(zone));
    }
    const keyFiles = new Map<string, string>();
    for (const key of keys) {
      const path = join(tempDir, `tsig-${key.name}.key`);
      await writeFile(path, keyStatement(key), { mode: 0o600 });
      keyFiles.set(key.name, path);
    }

    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      // named drops to "bind" right after start; it must still write journals, pid and keys here.
      await runCommand('chown', ['-R', 'bind:bind', tempDir]);
    }

    daemon = await startDaemon({
      name: 'named',
      command: NAMED,
      // -g: foreground, log to stderr (into our log file); -4: no IPv6 sockets; -n 2: few threads.
      args: ['-g', '-4', '-n', '2', '-c', confPath, ...(asRoot ? ['-u', 'bind'] : [])],
      logDir: tempDir,
    });
    const named = daemon;

    const dig = async (name: string, type: string): Promise<string[]> => {
      const { stdout } = await runCommand(DIG, [
        '-p',
        String(port),
        '@127.0.0.1',
        '+short',
        '+time=1',
        '+tries=1',
        name,
        type,
      ]);
      return stdout
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith(';'));
    };

    // named exits at once when it cannot bind; waitUntil then fails with its log tail.
    await waitUntil(
      async () => {
        for (const zone of options.zones) {
          if ((await dig(stripDot(zone.name), 'SOA')).length === 0) return false;
        }
        return true;
      },
      {
        timeoutMs: options.startTimeoutMs ?? 15_000,
        what: `named on 127.0.0.1:${port} to serve the SOA of ${options.zones.map((zone) => zone.name).join(', ')}`,
        daemons: [named],
      },
    );

    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);

    return {
      address: '127.0.0.1',
      port,
      dnsServer: `127.0.0.1:${port}`,
      tempDir,
      daemon: named,
      keyFilePath(name: string): string {
        const path = keyFiles.get(name);
        if (!path) throw new Error(`no TSIG key named ${name} (have: ${[...keyFiles.keys()].join(', ') || 'none'})`);
        return path;
      },
      query: dig,
      queryTxt: async (name) => {
        try {
          return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
          throw error;
        }
      },
      logTail: (lines) => named.logTail(lines),
      stop: cleanup,
    };
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
}
