/**
 * The standalone http-01 responder: answers `GET`/`HEAD /.well-known/acme-challenge/<token>` for
 * registered tokens with the key authorization, and 404 for anything else. The Host header is
 * ignored on purpose: validators send the identifier (or an IP) and proxies may rewrite it.
 */
import http from 'node:http';
import type { Logger } from '../../src/output/logger.js';

export const HTTP01_PATH_PREFIX = '/.well-known/acme-challenge/';

/** Token → key authorization; shared with the solver, which adds and removes entries. */
export type Http01Registry = ReadonlyMap<string, string>;

export function createHttp01Server(tokens: Http01Registry, log: Logger): http.Server {
  const server = http.createServer(
    // HTTP/1.0 validators and some proxies send no Host header; Node would answer 400 by default.
    { requireHostHeader: false },
    (request, response) => {
      const keyAuthorization = lookup(tokens, request);
      if (keyAuthorization === undefined) {
        log.debug(`standalone: 404 for ${request.method ?? '?'} ${truncate(request.url ?? '')}`);
        respond(response, 404, 'not found\n', request.method === 'HEAD');
        return;
      }
      log.debug(
        `standalone: served http-01 key authorization for ${truncate(request.url ?? '')} (Host: ${truncate(request.headers.host ?? '-')})`,
      );
      respond(response, 200, keyAuthorization, request.method === 'HEAD');
    },
  );
  return server;
}

function lookup(tokens: Http01Registry, request: http.IncomingMessage): string | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const pathname = pathOf(request.url ?? '');
  if (pathname === undefined || !pathname.startsWith(HTTP01_PATH_PREFIX)) return undefined;
  const token = pathname.slice(HTTP01_PATH_PREFIX.length);
  // Exact map hit only: no prefix match, no decoding, so nothing but registered tokens is served.
  return token === '' ? undefined : tokens.get(token);
}

/** Path of an origin-form (`/a?b`) or absolute-form (`http://host/a`, via a proxy) request target. */
function pathOf(target: string): string | undefined {
  if (target.startsWith('/')) {
    const end = target.search(/[?#]/);
    return end === -1 ? target : target.slice(0, end);
  }
  try {
    return new URL(target).pathname;
  } catch {
    return undefined;
  }
}

function respond(response: http.ServerResponse, status: number, body: string, head: boolean): void {
  const payload = Buffer.from(body, 'utf8');
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': payload.length,
    'cache-control': 'no-store',
    // A validator makes one request per connection. Closing it with the answer frees the socket at
    // once instead of after a keep-alive timeout (fewer idle sockets while 50 names are validated),
    // and dispose never waits for idle validators.
    connection: 'close',
  });
  if (head) response.end();
  else response.end(payload);
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
