/**
 * The built-in challenge plugins. Registration is static: the single binaries load no modules
 * at run time. Adding a plugin = one folder in plugins/ and one line here.
 */
import { UsageError } from '../errors.js';
import type { AnyChallengePlugin } from './plugin.js';
import { webrootPlugin } from '../../plugins/webroot/index.js';
import { standalonePlugin } from '../../plugins/standalone/index.js';
import { manualPlugin } from '../../plugins/manual/index.js';
import { nsupdatePlugin } from '../../plugins/nsupdate/index.js';

export const builtinPlugins: readonly AnyChallengePlugin[] = [
  webrootPlugin,
  standalonePlugin,
  manualPlugin,
  nsupdatePlugin,
];

export function resolvePlugin(name: string): AnyChallengePlugin {
  const plugin = builtinPlugins.find((p) => p.name === name);
  if (!plugin) {
    throw new UsageError(
      `unknown challenge plugin "${name}": known plugins are ${builtinPlugins.map((p) => p.name).join(', ')}`,
    );
  }
  return plugin;
}
