/**
 * The clients the benchmark compares, each driven the way its documentation says, against the
 * same Pebble, on the same workloads:
 *
 *   acmecli  --standalone --http-port P --standalone-address 127.0.0.1   (ec256 is its default)
 *   certbot  certonly --standalone --http-01-port P --http-01-address 127.0.0.1
 *            --key-type ecdsa --elliptic-curve secp256r1                 (REQUESTS_CA_BUNDLE)
 *   lego     --http --http.port 127.0.0.1:P --key-type ec256 run        (LEGO_CA_CERTIFICATES)
 *   uacme    -t EC -b 256 -h uacme.sh issue …  uacme has no built-in server: Debian's hook
 *            (/usr/share/uacme/uacme.sh) writes each token into a webroot that a small Node server
 *            in this process serves on P. uacme's libcurl-gnutls reads only the system bundle, so
 *            it runs (through nsenter) in a private mount namespace where Pebble's CA is
 *            bind-mounted over /etc/ssl/certs/ca-certificates.crt; the host is untouched.
 *
 * Each client gets fresh directories, registers once and issues one warm-up certificate before
 * anything is timed (that certificate is also the one the renewal fixtures copy).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { measure, tail, type Command } from './measure.js';
import {
  fixtureNames,
  makeAcmecliLineages,
  makeCertbotLineages,
  makeLegoCertificates,
  makeUacmeCertificates,
} from './fixtures-lib.js';

export type ClientKey = 'acmecli-bin' | 'acmecli-node' | 'certbot' | 'lego' | 'uacme';

export interface BenchContext {
  directoryUrl: string;
  caBundlePath: string;
  httpPort: number;
  /** Root of this run's temporary files. */
  workDir: string;
  scratchDir: string;
  /** Repository root. */
  repoRoot: string;
  nodePath: string;
}

export interface Client {
  key: ClientKey;
  /** Column header. */
  label: string;
  /** Version string for the header, or undefined when unavailable. */
  version?: string;
  /** Undefined when usable; otherwise why not (printed in the cell). */
  unavailable?: string;
  /** Set when setup() failed: start-up is still measured, the CA workloads are not. */
  setupFailed?: string;
  setup(): Promise<void>;
  versionCmd(): Command;
  helpCmd(): Command;
  issue(names: string[]): Command;
  prepareRenew(count: number): Promise<void>;
  renew(count: number): Command;
  /** Footnote for the renew rows, if the client does it differently. */
  renewNote?: string;
  /** Stops whatever setup() started (uacme's namespace holder). */
  close(): Promise<void>;
}

const EMAIL = 'bench@example.test';

function baseEnv(home: string): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
}

async function runOrThrow(what: string, command: Command, ctx: BenchContext, timeoutMs = 180_000): Promise<void> {
  const sample = await measure(command, { timeoutMs, scratchDir: ctx.scratchDir });
  if (!sample.ok) {
    throw new Error(
      `${what} failed (${sample.timedOut ? 'timeout' : `exit ${sample.exitCode ?? sample.signal}`}): ` +
        `${command.file} ${command.args.join(' ')}\n${sample.outputTail}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// acmecli

export function acmecliClient(
  ctx: BenchContext,
  kind: 'bin' | 'node',
  launcher: { file: string; prefix: string[] } | { unavailable: string },
  version: string | undefined,
): Client {
  const key: ClientKey = kind === 'bin' ? 'acmecli-bin' : 'acmecli-node';
  const label = kind === 'bin' ? 'acmecli binary' : 'acmecli `node dist`';
  if ('unavailable' in launcher) {
    return unavailableClient(key, label, launcher.unavailable);
  }
  const dir = join(ctx.workDir, key);
  const configDir = join(dir, 'config');
  const env = baseEnv(dir);
  const global = (config: string): string[] => [
    '--config-dir',
    config,
    '--server',
    ctx.directoryUrl,
    '--ca-bundle',
    ctx.caBundlePath,
  ];
  const cmd = (args: string[], okCodes = [0]): Command => ({
    file: launcher.file,
    args: [...launcher.prefix, ...args],
    env,
    okCodes,
    cwd: dir,
  });
  const warmupName = `warmup.${kind}.acmecli.bench.test`;
  return {
    key,
    label,
    ...(version ? { version } : {}),
    async setup() {
      await mkdir(dir, { recursive: true });
      await runOrThrow(
        `${label} register`,
        cmd([...global(configDir), 'register', '--email', EMAIL, '--agree-tos']),
        ctx,
      );
      await runOrThrow(`${label} warm-up issue`, this.issue([warmupName]), ctx);
    },
    versionCmd: () => cmd(['--version']),
    helpCmd: () => cmd(['--help']),
    issue: (names) =>
      cmd([
        ...global(configDir),
        'issue',
        ...names.flatMap((n) => ['-d', n]),
        '--standalone',
        '--http-port',
        String(ctx.httpPort),
        '--standalone-address',
        '127.0.0.1',
        '--key-type',
        'ec256',
      ]),
    async prepareRenew(count) {
      await makeAcmecliLineages(configDir, warmupName, join(dir, `renew-${count}`), fixtureNames(count));
    },
    renew: (count) => cmd([...global(join(dir, `renew-${count}`)), 'renew']),
    async close() {},
  };
}

// ---------------------------------------------------------------------------------------------
// certbot

export function certbotClient(ctx: BenchContext): Client {
  const label = 'certbot';
  const file = '/usr/bin/certbot';
  if (!existsSync(file)) return unavailableClient('certbot', label, 'n/a (not installed)');
  const version = packageVersion('certbot');
  const dir = join(ctx.workDir, 'certbot');
  const env = { ...baseEnv(dir), REQUESTS_CA_BUNDLE: ctx.caBundlePath };
  const dirs = (config: string): string[] => [
    '--config-dir',
    config,
    '--work-dir',
    join(dir, 'work'),
    '--logs-dir',
    join(dir, 'logs'),
  ];
  const configDir = join(dir, 'config');
  const warmupName = 'warmup.certbot.bench.test';
  const cmd = (args: string[]): Command => ({ file, args, env, cwd: dir });
  return {
    key: 'certbot',
    label,
    ...(version ? { version } : {}),
    async setup() {
      await mkdir(dir, { recursive: true });
      await runOrThrow(
        'certbot register',
        cmd([
          'register',
          ...dirs(configDir),
          '--server',
          ctx.directoryUrl,
          '-n',
          '--agree-tos',
          '-m',
          EMAIL,
          '--no-eff-email',
        ]),
        ctx,
      );
      await runOrThrow('certbot warm-up issue', this.issue([warmupName]), ctx);
    },
    versionCmd: () => cmd(['--version']),
    helpCmd: () => cmd(['--help']),
    issue: (names) =>
      cmd([
        'certonly',
        ...dirs(configDir),
        '--server',
        ctx.directoryUrl,
        '-n',
        '--standalone',
        '--http-01-port',
        String(ctx.httpPort),
        '--http-01-address',
        '127.0.0.1',
        '--key-type',
        'ecdsa',
        '--elliptic-curve',
        'secp256r1',
        ...names.flatMap((n) => ['-d', n]),
      ]),
    async prepareRenew(count) {
      await makeCertbotLineages(configDir, warmupName, join(dir, `renew-${count}`), fixtureNames(count));
    },
    // --no-random-sleep-on-renew: certbot otherwise sleeps up to 8 minutes when not on a terminal.
    renew: (count) => cmd(['renew', ...dirs(join(dir, `renew-${count}`)), '-n', '--no-random-sleep-on-renew']),
    async close() {},
  };
}

// ---------------------------------------------------------------------------------------------
// lego

export function legoClient(ctx: BenchContext, legoPath: string): Client {
  const label = 'lego';
  if (!existsSync(legoPath)) return unavailableClient('lego', label, 'n/a (not installed)');
  const versionFile = join(legoPath, '..', '..', '..', '..', 'VERSION');
  const version = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : undefined;
  const dir = join(ctx.workDir, 'lego');
  const env = { ...baseEnv(dir), LEGO_CA_CERTIFICATES: ctx.caBundlePath };
  const common = (path: string): string[] => [
    '--server',
    ctx.directoryUrl,
    '--accept-tos',
    '--email',
    EMAIL,
    '--path',
    path,
    '--key-type',
    'ec256',
    '--http',
    '--http.port',
    `127.0.0.1:${ctx.httpPort}`,
  ];
  const warmupName = 'warmup.lego.bench.test';
  const cmd = (args: string[], extra: Partial<Command> = {}): Command => ({
    file: legoPath,
    args,
    env,
    cwd: dir,
    ...extra,
  });
  return {
    key: 'lego',
    label,
    ...(version ? { version } : {}),
    async setup() {
      await mkdir(dir, { recursive: true });
      // lego has no register-only command: its first `run` registers. That run is the warm-up.
      await runOrThrow('lego register + warm-up issue', this.issue([warmupName]), ctx);
    },
    versionCmd: () => cmd(['--version']),
    helpCmd: () => cmd(['--help']),
    issue: (names) => cmd([...common(join(dir, 'data')), ...names.flatMap((n) => ['-d', n]), 'run']),
    async prepareRenew(count) {
      const path = join(dir, `renew-${count}`);
      const names = fixtureNames(count);
      await makeLegoCertificates(join(dir, 'data'), warmupName, path, names);
      await writeLoopScript(
        join(path, 'renew-all.sh'),
        names,
        `"${legoPath}" ${common(path).map(shellQuote).join(' ')} -d "$name" renew --no-random-sleep || exit 1`,
      );
    },
    renew: (count) => ({ file: '/bin/sh', args: [join(dir, `renew-${count}`, 'renew-all.sh')], env, cwd: dir }),
    renewNote:
      'lego renews one certificate per invocation (`lego -d NAME renew`): N certificates = a shell loop of N runs',
    async close() {},
  };
}

// ---------------------------------------------------------------------------------------------
// uacme

export function uacmeClient(ctx: BenchContext): Client {
  const label = 'uacme';
  const file = '/usr/bin/uacme';
  const hook = '/usr/share/uacme/uacme.sh';
  if (!existsSync(file)) return unavailableClient('uacme', label, 'n/a (not installed)');
  if (!existsSync(hook)) return unavailableClient('uacme', label, `n/a (${hook} missing)`);
  const systemBundle = '/etc/ssl/certs/ca-certificates.crt';
  if (!existsSync(systemBundle)) return unavailableClient('uacme', label, `n/a (${systemBundle} missing)`);
  const version = packageVersion('uacme');
  const dir = join(ctx.workDir, 'uacme');
  const confDir = join(dir, 'conf');
  const webroot = join(dir, 'www');
  const challengeDir = join(webroot, '.well-known', 'acme-challenge');
  const env = { ...baseEnv(dir), UACME_CHALLENGE_PATH: challengeDir };
  const warmupName = 'warmup.uacme.bench.test';
  let holder: ReturnType<typeof spawn> | undefined;
  const wrapper = (): string[] => {
    if (!holder?.pid) throw new Error('uacme: the mount namespace holder is not running');
    return ['/usr/bin/nsenter', '-t', String(holder.pid), '-m'];
  };
  const serveWebroot = async (): Promise<() => Promise<void>> => {
    const server = createServer((req, res) => {
      const prefix = '/.well-known/acme-challenge/';
      const url = req.url ?? '';
      const token = url.startsWith(prefix) ? url.slice(prefix.length) : '';
      const path = join(challengeDir, token);
      if (!/^[A-Za-z0-9_-]+$/.test(token) || !existsSync(path) || !statSync(path).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      createReadStream(path).pipe(res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ctx.httpPort, '127.0.0.1', resolve);
    });
    return () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  };
  const base = ['-c', confDir, '-a', ctx.directoryUrl];
  return {
    key: 'uacme',
    label,
    ...(version ? { version } : {}),
    async setup() {
      await mkdir(challengeDir, { recursive: true });
      holder = await startNamespaceHolder(ctx.caBundlePath, systemBundle);
      await runOrThrow(
        'uacme new',
        { file, args: [...base, '-t', 'EC', '-b', '256', '-y', 'new', EMAIL], env, wrapper: wrapper(), cwd: dir },
        ctx,
      );
      await runOrThrow('uacme warm-up issue', this.issue([warmupName]), ctx);
    },
    versionCmd: () => ({ file, args: ['-V'], env, okCodes: [2], cwd: dir }), // uacme -V exits 2
    helpCmd: () => ({ file, args: ['--help'], env, okCodes: [2], cwd: dir }),
    issue: (names) => ({
      file,
      args: [...base, '-t', 'EC', '-b', '256', '-h', hook, 'issue', ...names],
      env,
      cwd: dir,
      wrapper: wrapper(),
      around: serveWebroot,
    }),
    async prepareRenew(count) {
      const path = join(dir, `renew-${count}`);
      const names = fixtureNames(count);
      await makeUacmeCertificates(confDir, warmupName, path, names);
      // Exit 1 = "not reissued, still current"; anything else is a failure. No network is needed
      // (uacme decides from the file), so no namespace either: a contact with the CA would fail TLS.
      await writeLoopScript(
        join(path, 'renew-all.sh'),
        names,
        `"${file}" -c "${path}" -a "${ctx.directoryUrl}" -o -h "${hook}" issue "$name"; [ $? -eq 1 ] || exit 1`,
      );
    },
    renew: (count) => ({ file: '/bin/sh', args: [join(dir, `renew-${count}`, 'renew-all.sh')], env, cwd: dir }),
    renewNote:
      'uacme renews one certificate per invocation (`uacme issue NAME`, exit 1 = still current): N certificates = a shell loop of N runs',
    async close() {
      if (holder?.pid) {
        try {
          process.kill(holder.pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
    },
  };
}

/**
 * `unshare -m` + a bind mount of Pebble's CA over the system bundle, kept alive by `sleep`;
 * uacme runs enter it with `nsenter -t PID -m`. Mount propagation is private (unshare's default),
 * so the host's bundle never changes.
 */
async function startNamespaceHolder(caBundle: string, systemBundle: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(
    '/usr/bin/unshare',
    [
      '-m',
      '--propagation',
      'private',
      '/bin/sh',
      '-c',
      'mount --bind "$0" "$1" && exec sleep 86400',
      caBundle,
      systemBundle,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.unref();
  const want = readFileSync(caBundle, 'utf8').trim();
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode !== null)
      throw new Error(`uacme: unshare/mount failed: ${stderr.trim() || `exit ${child.exitCode}`}`);
    const probe = spawnSync('/usr/bin/nsenter', ['-t', String(child.pid), '-m', 'cat', systemBundle], {
      encoding: 'utf8',
    });
    if (probe.status === 0 && probe.stdout.trim() === want) return child;
  }
  try {
    process.kill(child.pid as number, 'SIGTERM');
  } catch {
    // gone
  }
  throw new Error(`uacme: the private mount namespace never showed Pebble's CA (${tail(stderr, 3)})`);
}

async function writeLoopScript(path: string, names: readonly string[], body: string): Promise<void> {
  await writeFile(join(path, '..', 'names.txt'), `${names.join('\n')}\n`);
  await writeFile(
    path,
    `#!/bin/sh\n# Generated by scripts/bench.ts: one invocation per certificate.\nwhile read -r name; do\n  ${body}\ndone < "${join(path, '..', 'names.txt')}"\n`,
    { mode: 0o755 },
  );
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function packageVersion(pkg: string): string | undefined {
  const query = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  return query.status === 0 && query.stdout.trim() ? query.stdout.trim() : undefined;
}

export function unavailableClient(key: ClientKey, label: string, reason: string): Client {
  const fail = (): never => {
    throw new Error(`${label} is unavailable: ${reason}`);
  };
  return {
    key,
    label,
    unavailable: reason,
    setup: async () => fail(),
    versionCmd: fail,
    helpCmd: fail,
    issue: fail,
    prepareRenew: async () => fail(),
    renew: fail,
    close: async () => {},
  };
}
