/**
 * standalone: acmecli itself answers http-01 (port 80) and tls-alpn-01 (port 443) while an order
 * is being validated. `prepare` only checks that the ports are free; the listeners start on the
 * first `present` (one listener per port and address, shared by every task) and stop in `dispose`.
 *
 * By default one dual-stack socket on `::` serves IPv4 and IPv6 alike; where the host has no IPv6
 * it falls back to `0.0.0.0`. `--standalone-address` replaces that with explicit addresses.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ChallengeTask, ChallengeType, SolvePlan, Solver } from '../../src/acme/solver.js';
import { definePlugin, type JsonObject, type PluginContext } from '../../src/challenges/plugin.js';
import { PluginError, UsageError, messageOf, throwIfAborted } from '../../src/errors.js';
import type { Logger } from '../../src/output/logger.js';
import { createHttp01Server } from './http01-server.js';
import { createTlsAlpn01Server, normalizeServerName } from './tls-alpn01-server.js';
import { standaloneSpec, DEFAULT_HTTP_PORT, DEFAULT_TLS_PORT } from './spec.js';
export { DEFAULT_HTTP_PORT, DEFAULT_TLS_PORT };

export interface StandaloneOptions {
  httpPort: number;
  tlsPort: number;
  /** Explicit listen addresses; undefined = dual-stack `::`, falling back to `0.0.0.0`. */
  addresses?: readonly string[];
}

export const standalonePlugin = definePlugin<StandaloneOptions>({
  ...standaloneSpec,
  parseOptions: parseStandaloneOptions,
  createSolver: (options, context) => createStandaloneSolver(options, context),
  toSettings(options): JsonObject {
    const settings: JsonObject = { httpPort: options.httpPort, tlsPort: options.tlsPort };
    if (options.addresses !== undefined) settings['standaloneAddress'] = [...options.addresses];
    return settings;
  },
});

export function parseStandaloneOptions(raw: Readonly<Record<string, unknown>>): StandaloneOptions {
  const httpPort = parsePort(raw['httpPort'], '--http-port', DEFAULT_HTTP_PORT);
  const tlsPort = parsePort(raw['tlsPort'], '--tls-port', DEFAULT_TLS_PORT);
  const addresses = parseAddresses(raw['standaloneAddress']);
  return addresses === undefined ? { httpPort, tlsPort } : { httpPort, tlsPort, addresses };
}

function parsePort(value: unknown, flag: string, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined || !/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new UsageError(`${flag} must be a port number between 1 and 65535, got ${JSON.stringify(value)}`);
  }
  return Number(text);
}

function parseAddresses(value: unknown): readonly string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const items = Array.isArray(value) ? value : [value];
  const addresses: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new UsageError('--standalone-address must be an IP address');
    for (const part of item.split(',')) {
      const address = part.trim().replace(/^\[(.*)\]$/, '$1');
      if (address === '') continue;
      if (net.isIP(address) === 0) {
        throw new UsageError(`--standalone-address must be an IP address, got ${JSON.stringify(part.trim())}`);
      }
      if (!addresses.includes(address)) addresses.push(address);
    }
  }
  return addresses.length === 0 ? undefined : addresses;
}

// ---------------------------------------------------------------------------------------------
// Listening

interface ListenTarget {
  host: string;
  ipv6Only?: boolean;
}

type ServerKind = 'http' | 'tls';

/** Errors that mean "this host has no usable IPv6", so the dual-stack default falls back to IPv4. */
const NO_IPV6_CODES = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT', 'EINVAL']);

function explicitTargets(addresses: readonly string[]): ListenTarget[] {
  // With both wildcards given, `::` must not also claim IPv4 or the `0.0.0.0` socket would clash.
  const ipv6Only = addresses.includes('0.0.0.0');
  return addresses.map((host) => (host === '::' ? { host, ipv6Only } : { host }));
}

function listen(server: net.Server, target: ListenTarget, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host: target.host, ipv6Only: target.ipv6Only ?? false });
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

/** Binds a throw-away socket to see whether `port` is free on `target`. */
async function tryBind(target: ListenTarget, port: number): Promise<void> {
  const probe = net.createServer();
  try {
    await listen(probe, target, port);
  } finally {
    await close(probe);
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function listenError(kind: ServerKind, port: number, host: string, error: unknown): PluginError {
  const code = errorCode(error);
  const portFlag = kind === 'http' ? '--http-port' : '--tls-port';
  if (code === 'EADDRINUSE') {
    const advice =
      kind === 'http'
        ? 'is a web server running? use --webroot instead'
        : 'is a web server running? use --preferred-challenges http-01 or dns-01 instead';
    return new PluginError(`port ${port} on ${host} is already in use (${advice})`, { cause: error });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new PluginError(
      `not allowed to listen on port ${port} on ${host} (ports below 1024 need root or CAP_NET_BIND_SERVICE; or forward the port and use ${portFlag})`,
      { cause: error },
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return new PluginError(`cannot listen on ${host}: not an address of this machine (--standalone-address)`, {
      cause: error,
    });
  }
  return new PluginError(`cannot listen on port ${port} on ${host}: ${messageOf(error)}`, { cause: error });
}

/**
 * Runs `bind` on the configured targets. For the default dual-stack target, falls back to
 * `0.0.0.0` when IPv6 is unavailable; returns the targets actually used.
 */
async function onEachTarget(
  addresses: readonly string[] | undefined,
  kind: ServerKind,
  port: number,
  bind: (target: ListenTarget) => Promise<void>,
): Promise<ListenTarget[]> {
  if (addresses !== undefined) {
    const targets = explicitTargets(addresses);
    for (const target of targets) {
      try {
        await bind(target);
      } catch (error) {
        throw listenError(kind, port, target.host, error);
      }
    }
    return targets;
  }

  const dualStack: ListenTarget = { host: '::', ipv6Only: false };
  try {
    await bind(dualStack);
    return [dualStack];
  } catch (error) {
    const code = errorCode(error);
    if (code !== undefined && NO_IPV6_CODES.has(code)) {
      const ipv4: ListenTarget = { host: '0.0.0.0' };
      try {
        await bind(ipv4);
      } catch (ipv4Error) {
        throw listenError(kind, port, ipv4.host, ipv4Error);
      }
      return [ipv4];
    }
    if (code === 'EADDRINUSE') {
      // The dual-stack socket clashes with a listener on either family: name the one that is taken
      // (most web servers hold 0.0.0.0) so the message points at the real conflict.
      let ipv4Taken = false;
      try {
        await tryBind({ host: '0.0.0.0' }, port);
      } catch (probeError) {
        ipv4Taken = errorCode(probeError) === 'EADDRINUSE';
      }
      throw listenError(kind, port, ipv4Taken ? '0.0.0.0' : '::', error);
    }
    throw listenError(kind, port, dualStack.host, error);
  }
}

/** Every listener of one port, plus their open sockets so dispose need not wait for clients. */
class PortListener {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private starting: Promise<void> | undefined;

  constructor(
    private readonly kind: ServerKind,
    private readonly port: number,
    private readonly addresses: readonly string[] | undefined,
    private readonly createServer: () => net.Server,
    private readonly log: Logger,
  ) {}

  /** Starts listening once; concurrent callers share the same start. */
  ensureListening(): Promise<void> {
    this.starting ??= this.start().catch(async (error: unknown) => {
      await this.close();
      this.starting = undefined; // a later present may try again
      throw error;
    });
    return this.starting;
  }

  private async start(): Promise<void> {
    const targets = await onEachTarget(this.addresses, this.kind, this.port, async (target) => {
      const server = this.createServer();
      server.on('connection', (socket: net.Socket) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
      });
      try {
        await listen(server, target, this.port);
      } catch (error) {
        await close(server);
        throw error;
      }
      this.servers.push(server);
    });
    const where = targets.map((t) => (t.host.includes(':') ? `[${t.host}]` : t.host)).join(', ');
    this.log.info(
      `standalone: listening for ${this.kind === 'http' ? 'http-01' : 'tls-alpn-01'} on port ${this.port} (${where})`,
    );
  }

  async close(): Promise<void> {
    const servers = this.servers.splice(0);
    const closing = servers.map((server) => close(server));
    // server.close() waits for open connections; validators may keep one alive, so end them now.
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await Promise.all(closing);
    if (servers.length > 0) this.log.debug(`standalone: stopped listening on port ${this.port}`);
  }

  async dispose(): Promise<void> {
    await this.starting?.catch(() => undefined);
    this.starting = undefined;
    await this.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Solver

function taskKey(task: ChallengeTask): string {
  return task.type === 'tls-alpn-01' ? normalizeServerName(task.serverName) : task.identifier.value;
}

export function createStandaloneSolver(options: StandaloneOptions, context: PluginContext): Solver {
  const { log } = context;
  const httpTokens = new Map<string, string>();
  const tlsContexts = new Map<string, tls.SecureContext>();
  /** The context registered by each tls-alpn-01 task, so clean-up removes only its own entry. */
  const tlsContextByTask = new Map<string, tls.SecureContext>();

  const httpListener = new PortListener(
    'http',
    options.httpPort,
    options.addresses,
    () => createHttp01Server(httpTokens, log),
    log,
  );
  const tlsListener = new PortListener(
    'tls',
    options.tlsPort,
    options.addresses,
    () => createTlsAlpn01Server(tlsContexts, log),
    log,
  );

  return {
    name: 'standalone',

    async prepare(plan: SolvePlan, signal: AbortSignal): Promise<void> {
      const checks: Array<[ServerKind, number, ChallengeType]> = [
        ['http', options.httpPort, 'http-01'],
        ['tls', options.tlsPort, 'tls-alpn-01'],
      ];
      for (const [kind, port, type] of checks) {
        if (!plan.types.includes(type)) continue;
        throwIfAborted(signal);
        await onEachTarget(options.addresses, kind, port, (target) => tryBind(target, port));
      }
    },

    async present(task: ChallengeTask, signal: AbortSignal): Promise<void> {
      throwIfAborted(signal);
      switch (task.type) {
        case 'http-01':
          httpTokens.set(task.token, task.keyAuthorization);
          await httpListener.ensureListening();
          return;
        case 'tls-alpn-01': {
          let secureContext: tls.SecureContext;
          try {
            secureContext = tls.createSecureContext({ cert: task.certificatePem, key: task.privateKeyPem });
          } catch (error) {
            throw new PluginError(
              `unusable tls-alpn-01 certificate for ${task.identifier.value}: ${messageOf(error)}`,
              {
                cause: error,
              },
            );
          }
          const key = taskKey(task);
          tlsContexts.set(key, secureContext);
          tlsContextByTask.set(key, secureContext);
          await tlsListener.ensureListening();
          return;
        }
        default:
          throw new PluginError(`the standalone plugin cannot solve ${task.type}; use --manual or a DNS plugin`);
      }
    },

    async cleanUp(task: ChallengeTask): Promise<void> {
      if (task.type === 'http-01') {
        if (httpTokens.get(task.token) === task.keyAuthorization) httpTokens.delete(task.token);
      } else if (task.type === 'tls-alpn-01') {
        const key = taskKey(task);
        const mine = tlsContextByTask.get(key);
        if (mine !== undefined && tlsContexts.get(key) === mine) tlsContexts.delete(key);
        tlsContextByTask.delete(key);
      }
    },

    async dispose(): Promise<void> {
      httpTokens.clear();
      tlsContexts.clear();
      tlsContextByTask.clear();
      await Promise.all([httpListener.dispose(), tlsListener.dispose()]);
    },
  };
}
