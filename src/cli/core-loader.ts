/**
 * Loads the second half of acmecli (src/cli/core.ts and everything it needs) only when a command
 * runs, so `--version` and `--help` never parse the ACME core, the crypto libraries or the HTTP client.
 * Built, the core is `acmecli-core.cjs` beside the launcher, or an asset of the single
 * executable; unbundled (tests), a plain import.
 */
import { createRequire } from 'node:module';
import { compileFunction } from 'node:vm';

type Core = typeof import('./core.js');

declare const __ACMECLI_BUNDLED__: boolean | undefined;

export const CORE_ASSET_NAME = 'acmecli-core.cjs';

let loaded: Promise<Core> | undefined;

type Sea = { isSea?: () => boolean; getAsset?: (key: string, encoding: string) => string };

/** The function CommonJS wraps a module's source in. */
type CommonJsWrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;

/** One built file: beside the launcher, or an asset of the single executable. */
function loadBuiltFile(file: string): unknown {
  const require = createRequire(import.meta.url);
  const sea = process.getBuiltinModule?.('node:sea') as Sea | undefined;
  if (sea?.isSea?.() && sea.getAsset) {
    const source = sea.getAsset(file, 'utf8');
    const factory = compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], {
      filename: file,
    }) as CommonJsWrapper;
    const module = { exports: {} as unknown };
    factory(module.exports, require, module, process.execPath, '.');
    return module.exports;
  }
  return require(`./${file}`);
}

function loadBundledCore(): Core {
  // The core asks for its heavy libraries (acmecli-execa.cjs) through this, on first use.
  const chunks = new Map<string, unknown>();
  (globalThis as { __acmecliLoadChunk?: (name: string) => unknown }).__acmecliLoadChunk = (name) => {
    if (!chunks.has(name)) chunks.set(name, loadBuiltFile(`acmecli-${name}.cjs`));
    return chunks.get(name);
  };
  return loadBuiltFile(CORE_ASSET_NAME) as Core;
}

export function loadCore(): Promise<Core> {
  loaded ??= typeof __ACMECLI_BUNDLED__ === 'boolean' ? Promise.resolve(loadBundledCore()) : import('./core.js');
  return loaded;
}
