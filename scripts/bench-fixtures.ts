/**
 * N certificates on disk for acmecli (and, as far as practical, certbot, lego and uacme), for
 * measuring `renew` when nothing is due. One real certificate is issued from Pebble per client;
 * its lineage is then copied N times under other names in the client's own format (see
 * scripts/bench/fixtures-lib.ts for exactly what is written and why it is valid).
 * `npm run bench` uses the same code; this is the stand-alone form:
 *
 *   node scripts/run-ts.mjs scripts/bench-fixtures.ts --count 1000 --out DIR
 *       [--clients acmecli,certbot,lego,uacme]   (default: acmecli)
 *       [--server URL --ca-bundle FILE --http-port P]   (an existing CA; default: starts Pebble)
 *
 * Without --server it starts its own Pebble (Debian's 2.4) and stops it at the end: the
 * lineages' renewal.json then names a CA that is gone, which is fine for looking at the layout
 * or for `acmecli certificates`, not for `renew`. DIR/<client>/ gets the source config
 * (the real certificate) and DIR/<client>/renew-N/ the copies; the command to renew them is
 * printed at the end.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPebble, type PebbleHandle } from '../test/helpers/pebble.js';
import {
  acmecliClient,
  certbotClient,
  legoClient,
  uacmeClient,
  type BenchContext,
  type Client,
} from './bench/clients.js';
import type { Command } from './bench/measure.js';
import { BUNDLE, LEGO, NODE, REPO_ROOT } from './bench/paths.js';

const KINDS = ['acmecli', 'certbot', 'lego', 'uacme'] as const;
type Kind = (typeof KINDS)[number];

function fail(message: string): never {
  process.stderr.write(`bench-fixtures: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const get = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) fail(`${flag} needs a value`);
  return v;
};
if (args.includes('-h') || args.includes('--help')) {
  process.stdout.write(
    'usage: node scripts/run-ts.mjs scripts/bench-fixtures.ts --count N --out DIR [--clients acmecli,certbot,lego,uacme] [--server URL --ca-bundle FILE --http-port P]\n',
  );
  process.exit(0);
}
const count = Number(get('--count') ?? '1000');
if (!Number.isInteger(count) || count < 1 || count > 100_000) fail('--count must be a whole number from 1 to 100000');
const out = resolve(get('--out') ?? (await mkdtemp(join(tmpdir(), 'acmecli-fixtures-'))));
const kinds = (get('--clients') ?? 'acmecli').split(',').map((s) => s.trim()) as Kind[];
for (const k of kinds) if (!KINDS.includes(k)) fail(`--clients: unknown "${k}" (one of ${KINDS.join(', ')})`);
const server = get('--server');
const caBundle = get('--ca-bundle');
const httpPortText = get('--http-port');
if (server && (!caBundle || !httpPortText)) fail('--server needs --ca-bundle and --http-port too');
if (kinds.includes('acmecli') && !existsSync(BUNDLE)) fail(`${BUNDLE} is missing: npm run build`);

let pebble: PebbleHandle | undefined;
const clients: Client[] = [];
try {
  if (!server) {
    pebble = await startPebble({ binary: 'bookworm', env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' } });
    process.stderr.write(`bench-fixtures: started ${pebble.directoryUrl} (stopped at the end)\n`);
  }
  const ctx: BenchContext = {
    directoryUrl: server ?? (pebble as PebbleHandle).directoryUrl,
    caBundlePath: caBundle ?? (pebble as PebbleHandle).caBundlePath,
    httpPort: httpPortText ? Number(httpPortText) : (pebble as PebbleHandle).httpPort,
    workDir: out,
    scratchDir: join(out, 'scratch'),
    repoRoot: REPO_ROOT,
    nodePath: NODE,
  };
  await mkdir(ctx.scratchDir, { recursive: true });
  const make: Record<Kind, () => Client> = {
    acmecli: () => acmecliClient(ctx, 'node', { file: NODE, prefix: [BUNDLE] }, undefined),
    certbot: () => certbotClient(ctx),
    lego: () => legoClient(ctx, LEGO),
    uacme: () => uacmeClient(ctx),
  };
  for (const kind of kinds) {
    const client = make[kind]();
    clients.push(client);
    if (client.unavailable) {
      process.stderr.write(`bench-fixtures: ${kind}: ${client.unavailable} (scripts/install-peers.sh)\n`);
      continue;
    }
    process.stderr.write(`bench-fixtures: ${kind}: registering and issuing the source certificate\n`);
    await client.setup();
    const started = Date.now();
    await client.prepareRenew(count);
    process.stderr.write(
      `bench-fixtures: ${kind}: ${count} certificates written in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    const renew: Command = client.renew(count);
    const wrapper = renew.wrapper ? `${renew.wrapper.join(' ')} ` : '';
    const env = Object.entries(renew.env)
      .filter(([k]) => k !== 'PATH' && k !== 'HOME' && k !== 'LANG')
      .map(([k, v]) => `${k}=${v} `)
      .join('');
    process.stdout.write(`${kind}: ${env}${wrapper}${[renew.file, ...renew.args].join(' ')}\n`);
  }
  process.stderr.write(`bench-fixtures: done in ${out}\n`);
} finally {
  for (const client of clients) await client.close().catch(() => undefined);
  await pebble?.stop();
  spawnSync('rm', ['-rf', join(out, 'scratch')]);
}
