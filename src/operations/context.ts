/**
 * What every operation gets from the CLI: resolved global settings, the reporter, the abort
 * signal and the few interactive abilities. Operations never touch process.* themselves.
 */
import type { Reporter } from '../output/reporter.js';
import type { RunCommand } from '../hooks/run-command.js';

export interface ConnectionSettings {
  /** ACME directory URL. */
  server: string;
  /** Paths of the TLS material for talking to the CA. */
  caBundle?: string;
  clientCert?: string;
  clientKey?: string;
}

export interface RunContext extends ConnectionSettings {
  configDir: string;
  accountName: string;
  reporter: Reporter;
  signal: AbortSignal;
  nonInteractive: boolean;
  /** Shows a message and waits for Enter (manual plugin). Absent when non-interactive. */
  prompt?: (lines: readonly string[], signal: AbortSignal) => Promise<void>;
  /** Asks a yes/no question. Absent when non-interactive. */
  confirm?: (question: string, signal: AbortSignal) => Promise<boolean>;
  runCommand: RunCommand;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY as found in the environment. */
  proxy: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  userAgent: string;
  /** How long the CA may take to answer one request (ACMECLI_HTTP_TIMEOUT, seconds); default 30 s. */
  httpTimeoutMs?: number;
  now: () => Date;
  /** The hint line for an error: the CLI words the core's advice with its flags (src/cli/hints.ts). */
  hintFor: (error: unknown) => string | undefined;
  /** The environment, for plugin options that may come from it (ACMECLI_NSUPDATE_KEY on renew). */
  env: Readonly<Record<string, string | undefined>>;
}
