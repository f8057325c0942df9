// Bundles the CLI into one CommonJS file (dist/acmecli.cjs): fast start-up (one file to load),
// and the form Node's single-executable applications require.
import { build } from 'esbuild';
import { chmod, rename } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'acmecli.cjs');
// Built beside the target and renamed over it: a test run in progress never sees half a file.
const tempfile = `${outfile}.${process.pid}.tmp`;

const result = await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  outfile: tempfile,
  banner: { js: '#!/usr/bin/env node' },
  sourcemap: false,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  // ESM-only dependencies reference import.meta.url; in the CJS bundle it maps to the file's URL.
  define: { 'import.meta.url': 'importMetaUrl' },
  inject: [join(root, 'scripts', 'import-meta-url.js')],
});
await chmod(tempfile, 0o755);
await rename(tempfile, outfile);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`built ${outfile} (${(bytes / 1024).toFixed(0)} KiB)`);
