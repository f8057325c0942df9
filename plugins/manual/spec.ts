/**
 * What the command line needs to know about the manual plugin without loading it: its name,
 * challenge types and options. Kept apart from the implementation so `acmecli --help` stays fast.
 */
import type { PluginSpec } from '../../src/challenges/plugin.js';

/**
 * certbot has no hook timeout; one is needed so a hung script cannot hold the run (and its lock)
 * forever, yet it must leave room for scripts that sleep for DNS propagation themselves.
 */
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 300;

export const manualSpec: PluginSpec = {
  name: 'manual',
  summary: 'http-01 and dns-01: your own hook scripts publish the challenge (certbot-compatible), or you do it by hand',
  challengeTypes: ['http-01', 'dns-01'],
  options: [
    {
      flags: '--manual-auth-hook <command>',
      description: 'command that publishes each challenge; gets CERTBOT_* and ACMECLI_* variables',
    },
    {
      flags: '--manual-cleanup-hook <command>',
      description: 'command that removes each challenge afterwards; also gets CERTBOT_AUTH_OUTPUT',
    },
    {
      flags: '--manual-hook-timeout <seconds>',
      description: `how long one hook may run (default ${DEFAULT_HOOK_TIMEOUT_SECONDS})`,
    },
  ],
};
