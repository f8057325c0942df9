/**
 * What the command line needs to know about the standalone plugin without loading it: its name,
 * challenge types and options. Kept apart from the implementation so `acmecli --help` stays fast.
 */
import type { PluginSpec } from '../../src/challenges/plugin.js';

export const DEFAULT_HTTP_PORT = 80;
export const DEFAULT_TLS_PORT = 443;

export const standaloneSpec: PluginSpec = {
  name: 'standalone',
  summary: 'http-01 and tls-alpn-01: acmecli listens on ports 80/443 itself while validating',
  challengeTypes: ['http-01', 'tls-alpn-01'],
  options: [
    { flags: '--http-port <port>', description: `port to answer http-01 on (default ${DEFAULT_HTTP_PORT})` },
    { flags: '--tls-port <port>', description: `port to answer tls-alpn-01 on (default ${DEFAULT_TLS_PORT})` },
    {
      flags: '--standalone-address <addr>',
      description:
        'IP address to listen on; repeat or comma-separate for several (default: every IPv6 and IPv4 address)',
      repeatable: true,
    },
  ],
};
