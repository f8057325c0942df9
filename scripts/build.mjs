// Builds the CLI as two CommonJS files (the form Node's single-executable applications need):
// dist/acmecli.cjs, the launcher (commander and the option declarations), and
// dist/acmecli-core.cjs, every command's implementation and its libraries, loaded only when a
// command runs: --version and --help stay fast. The single binaries carry the core as an asset.
import { build } from 'esbuild';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'acmecli.cjs');
// Built beside the target and renamed over it: a test run in progress never sees half a file.
const tempfile = `${outfile}.${process.pid}.tmp`;

const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  // ESM-only dependencies reference import.meta.url; in the CJS bundle it maps to the file's URL.
  define: { 'import.meta.url': 'importMetaUrl' },
  inject: [join(root, 'scripts', 'import-meta-url.js')],
};

const coreFile = join(root, 'dist', 'acmecli-core.cjs');
const coreTemp = `${coreFile}.${process.pid}.tmp`;
const core = await build({
  ...common,
  entryPoints: [join(root, 'src', 'cli', 'core.ts')],
  outfile: coreTemp,
});

// The launcher must not bundle core.ts: it loads acmecli-core.cjs instead.
const externalCore = {
  name: 'external-core',
  setup(b) {
    b.onResolve({ filter: /[\\/]core\.js$/ }, (args) => (args.importer.endsWith('core-loader.ts') ? { path: args.path, external: true } : undefined));
  },
};
const launcher = await build({
  ...common,
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: tempfile,
  banner: { js: '#!/usr/bin/env node' },
  define: { ...common.define, __ACMECLI_BUNDLED__: 'true' },
  plugins: [externalCore],
});
await chmod(tempfile, 0o755);
await rename(coreTemp, coreFile);
await rename(tempfile, outfile);
await writeFile(join(root, 'dist', 'build-meta.json'), JSON.stringify({ launcher: launcher.metafile, core: core.metafile }));
const size = (meta) => Object.values(meta.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`built ${outfile} (${(size(launcher.metafile) / 1024).toFixed(0)} KiB) and ${coreFile} (${(size(core.metafile) / 1024).toFixed(0)} KiB)`);
