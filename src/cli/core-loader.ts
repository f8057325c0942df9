/**
 * Loads the second half of acmecli (src/cli/core.ts and everything it needs) only when a command
 * runs, so `--version` and `--help` never parse the ACME core, the crypto libraries or undici.
 * Built, the core is `acmecli-core.cjs` beside the launcher, or an asset of the single
 * executable; unbundled (tests), a plain import.
 */
import { createRequire } from 'node:module';
import { compileFunction } from 'node:vm';

type Core = typeof import('./core.js');

declare const __ACMECLI_BUNDLED__: boolean | undefined;

export const CORE_ASSET_NAME = 'acmecli-core.cjs';

let loaded: Promise<Core> | undefined;

function loadBundledCore(): Core {
  const require = createRequire(import.meta.url);
  const sea = process.getBuiltinModule?.('node:sea') as { isSea?: () => boolean; getAsset?: (key: string, encoding: string) => string } | undefined;
  if (sea?.isSea?.() && sea.getAsset) {
    const source = sea.getAsset(CORE_ASSET_NAME, 'utf8');
    const factory = compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: CORE_ASSET_NAME });
    const module = { exports: {} as Core };
    factory(module.exports, require, module, process.execPath, '.');
    return module.exports;
  }
  return require(`./${CORE_ASSET_NAME}`) as Core;
}

export function loadCore(): Promise<Core> {
  loaded ??= typeof __ACMECLI_BUNDLED__ === 'boolean' ? Promise.resolve(loadBundledCore()) : import('./core.js');
  return loaded;
}
