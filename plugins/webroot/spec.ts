/**
 * What the command line needs to know about the webroot plugin without loading it: its name,
 * challenge types and options. Kept apart from the implementation so `acmecli --help` stays fast.
 */
import type { PluginSpec } from '../../src/challenges/plugin.js';

export const webrootSpec: PluginSpec = {
  name: 'webroot',
  summary: 'http-01: write challenge files into the document root of a running web server',
  challengeTypes: ['http-01'],
  options: [
    {
      flags: '-w, --webroot-path <dir>',
      description:
        'document root of the web server; applies to the -d names that follow it, the last one to any other name',
      repeatable: true,
    },
    {
      flags: '--webroot-map <json>',
      description: 'JSON object mapping names to document roots, e.g. {"example.com":"/var/www/html"}',
    },
  ],
};
