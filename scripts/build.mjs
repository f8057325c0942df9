// Builds the CLI as CommonJS files (the form Node's single-executable applications need):
//   dist/acmecli.cjs            the launcher: commander and the option declarations
//   dist/acmecli-core.cjs       every command's implementation, loaded when a command runs
//   dist/acmecli-<lib>.cjs      the libraries not every command needs (execa), each
//                               loaded the first time the core needs it
// so --version and --help compile only the launcher, and `renew` with nothing due compiles no library.
// dist/assets.json lists the files besides the launcher: the single binaries carry them as
// SEA assets under those names.
import { build } from 'esbuild';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join } from 'node:path';
import { V8_OPTIONS } from './v8-options.mjs';

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

// The core reaches these only through `await import(...)`; each becomes its own file.
const CHUNKS = {
  execa: 'execa',
};
const chunkOf = Object.fromEntries(Object.entries(CHUNKS).map(([name, pkg]) => [pkg, name]));
const chunkImports = {
  name: 'chunk-imports',
  setup(b) {
    const filter = new RegExp(
      `^(${Object.keys(chunkOf)
        .map((p) => p.replace(/[/.-]/g, '\\$&'))
        .join('|')})$`,
    );
    b.onResolve({ filter }, (args) => {
      if (args.kind !== 'dynamic-import') {
        throw new Error(
          `${args.importer} imports ${args.path} statically; import it with await import() so it stays out of the core`,
        );
      }
      return { path: chunkOf[args.path], namespace: 'acmecli-chunk' };
    });
    b.onLoad({ filter: /.*/, namespace: 'acmecli-chunk' }, (args) => ({
      contents: `module.exports = globalThis.__acmecliLoadChunk(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

const dist = join(root, 'dist');
await mkdir(dist, { recursive: true });
const outputs = [];
for (const [name, pkg] of Object.entries(CHUNKS)) {
  const file = join(dist, `acmecli-${name}.cjs`);
  const result = await build({
    ...common,
    stdin: { contents: `module.exports = require(${JSON.stringify(pkg)});`, resolveDir: root, loader: 'js' },
    outfile: `${file}.${process.pid}.tmp`,
  });
  outputs.push({ file, temp: `${file}.${process.pid}.tmp`, meta: result.metafile });
}

const coreFile = join(dist, 'acmecli-core.cjs');
const coreTemp = `${coreFile}.${process.pid}.tmp`;
const core = await build({
  ...common,
  entryPoints: [join(root, 'src', 'cli', 'core.ts')],
  outfile: coreTemp,
  plugins: [chunkImports],
});
outputs.push({ file: coreFile, temp: coreTemp, meta: core.metafile });

// The launcher must not bundle core.ts: it loads acmecli-core.cjs instead.
const externalCore = {
  name: 'external-core',
  setup(b) {
    b.onResolve({ filter: /[\\/]core\.js$/ }, (args) =>
      args.importer.endsWith('core-loader.ts') ? { path: args.path, external: true } : undefined,
    );
  },
};
const launcher = await build({
  ...common,
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outfile: tempfile,
  banner: { js: `#!/usr/bin/env -S node ${V8_OPTIONS.join(' ')}` },
  define: { ...common.define, __ACMECLI_BUNDLED__: 'true' },
  plugins: [externalCore],
});
await chmod(tempfile, 0o755);
for (const output of outputs) await rename(output.temp, output.file);
await rename(tempfile, outfile);
const size = (meta) => Object.values(meta.outputs).reduce((sum, o) => sum + o.bytes, 0);
const assets = Object.fromEntries(outputs.map((o) => [basename(o.file), o.file]));
await writeFile(join(dist, 'assets.json'), `${JSON.stringify(assets, null, 2)}\n`);
await writeFile(join(dist, 'build-meta.json'), JSON.stringify({ launcher: launcher.metafile, core: core.metafile }));
console.log(
  `built ${outfile} (${(size(launcher.metafile) / 1024).toFixed(0)} KiB) + ${outputs.map((o) => `${basename(o.file)} ${(size(o.meta) / 1024).toFixed(0)} KiB`).join(', ')}`,
);
