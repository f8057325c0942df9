/** The built-in plugins as the command line declares them (no plugin code loaded). */
import type { PluginSpec } from './plugin.js';
import { webrootSpec } from '../../plugins/webroot/spec.js';
import { standaloneSpec } from '../../plugins/standalone/spec.js';
import { manualSpec } from '../../plugins/manual/spec.js';
import { nsupdateSpec } from '../../plugins/nsupdate/spec.js';

export const builtinPluginSpecs: readonly PluginSpec[] = [webrootSpec, standaloneSpec, manualSpec, nsupdateSpec];
