/**
 * Minimal solvers for protocol-core tests: they stand in for the real plugins (tested in
 * test/plugins) so the core's order flow is tested against Pebble on its own.
 */
import { createServer, type Server } from 'node:http';
import type { ChallengeTask, ChallengeType, Solver, SolverChooser } from '../../src/acme/solver.js';
import type { ChalltestsrvHandle } from './pebble.js';

export interface TestHttpSolver extends Solver {
  readonly served: Map<string, string>;
  readonly requests: string[];
  close(): Promise<void>;
}

/** Serves http-01 answers on 127.0.0.1:port for the whole test file. */
export async function startTestHttpSolver(port: number): Promise<TestHttpSolver> {
  const served = new Map<string, string>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = served.get(req.url ?? '');
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    name: 'test-http',
    served,
    requests,
    async present(task: ChallengeTask) {
      if (task.type !== 'http-01') throw new Error(`test-http cannot do ${task.type}`);
      served.set(task.path, task.keyAuthorization);
    },
    async cleanUp(task: ChallengeTask) {
      if (task.type === 'http-01') served.delete(task.path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** dns-01 through pebble-challtestsrv's management API. */
export function challtestsrvDnsSolver(challtestsrv: ChalltestsrvHandle): Solver & { presented: string[] } {
  const presented: string[] = [];
  return {
    name: 'test-dns',
    presented,
    async present(task: ChallengeTask) {
      if (task.type !== 'dns-01') throw new Error(`test-dns cannot do ${task.type}`);
      presented.push(task.recordName);
      await challtestsrv.setTxt(task.recordName, task.txtValue);
    },
    async cleanUp(task: ChallengeTask) {
      if (task.type === 'dns-01') await challtestsrv.clearTxt(task.recordName);
    },
  };
}

/** Uses `solver` for `type` whenever the CA offers it. */
export function chooseOnly(type: ChallengeType, solver: Solver): SolverChooser {
  return (_identifier, _wildcard, offered) => (offered.includes(type) ? { solver, type } : undefined);
}

/** dns-01 for wildcards, http-01 for the rest. */
export function chooseHttpOrDns(http: Solver, dns: Solver): SolverChooser {
  return (_identifier, wildcard, offered) => {
    if (!wildcard && offered.includes('http-01')) return { solver: http, type: 'http-01' };
    if (offered.includes('dns-01')) return { solver: dns, type: 'dns-01' };
    return undefined;
  };
}
