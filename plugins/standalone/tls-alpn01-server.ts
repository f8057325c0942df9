/**
 * The standalone tls-alpn-01 responder (RFC 8737): completes only handshakes that offer the
 * `acme-tls/1` protocol and name a registered identifier by SNI, presenting that identifier's
 * validation certificate. Other protocols and unknown names fail during the handshake, so no
 * ordinary HTTPS client ever gets one of these certificates.
 */
import tls from 'node:tls';
import type { Logger } from '../../src/output/logger.js';

export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';

/** SNI name (lower case, no trailing dot) → validation certificate context; owned by the solver. */
export type TlsAlpn01Registry = ReadonlyMap<string, tls.SecureContext>;

/** Validators hang up right after the handshake; this only bounds sockets that never do. */
const IDLE_TIMEOUT_MS = 10_000;

export function normalizeServerName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export function createTlsAlpn01Server(contexts: TlsAlpn01Registry, log: Logger): tls.Server {
  const server = tls.createServer({
    minVersion: 'TLSv1.2',
    // Called only when the client offers ALPN; returning undefined aborts the handshake with a
    // no_application_protocol alert (RFC 8737 section 3 requires acme-tls/1 to be negotiated).
    ALPNCallback: ({ protocols }) => (protocols.includes(ACME_TLS_ALPN_PROTOCOL) ? ACME_TLS_ALPN_PROTOCOL : undefined),
    SNICallback: (serverName, callback) => {
      const context = contexts.get(normalizeServerName(serverName));
      if (context === undefined) {
        log.debug(`standalone: refused tls-alpn-01 handshake for unknown name ${serverName}`);
        callback(new Error(`no tls-alpn-01 certificate for ${serverName}`), undefined);
        return;
      }
      callback(null, context);
    },
  });

  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // A client that sent no ALPN extension at all never reaches ALPNCallback: drop it here.
    if (socket.alpnProtocol !== ACME_TLS_ALPN_PROTOCOL) {
      log.debug('standalone: closed a TLS connection that did not negotiate acme-tls/1');
      socket.destroy();
      return;
    }
    log.debug(`standalone: completed tls-alpn-01 handshake for ${String(socket.servername)}`);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    // The validator only reads the certificate; nothing is ever sent over this connection.
    socket.resume();
  });
  server.on('tlsClientError', (error) => {
    log.debug(`standalone: TLS handshake failed: ${error.message}`);
  });
  return server;
}
