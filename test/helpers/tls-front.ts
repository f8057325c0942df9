/**
 * A TLS front for Pebble that demands a client certificate, as EJBCA does on its port 8443, and
 * optionally answers EJBCA-shaped directory URLs (`/ejbca/acme/<alias>/directory`,
 * `/ejbca/acme/directory?configurationId=<alias>`). Pebble asks no client certificate and only
 * knows `/dir`, so this stands in for the EJBCA behaviour the client must cope with.
 *
 * It re-originates TLS to Pebble (trusting Pebble's throw-away CA) and keeps the Host header:
 * Pebble builds every URL in its answers from it, so the whole protocol runs through the front.
 */
import { writeFile, readFile } from 'node:fs/promises';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { makeTestTls } from './pebble.js';
import { makeTempDir, removeTempDir, runCommand } from './processes.js';

const CLIENT_OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

export interface ClientCertificate {
  /** The CA the front trusts for client certificates. */
  caPem: string;
  certificatePem: string;
  keyPem: string;
}

/** A throw-away client CA and a client certificate (EKU clientAuth) signed by it, with openssl. */
export async function makeClientCertificate(
  dir: string,
  commonName = 'acmecli test client',
): Promise<ClientCertificate> {
  const configPath = join(dir, 'client-openssl.cnf');
  await writeFile(configPath, CLIENT_OPENSSL_CONFIG);
  const caKey = join(dir, 'client-ca.key');
  const caCert = join(dir, 'client-ca.pem');
  const key = join(dir, 'client.key');
  const cert = join(dir, 'client.pem');
  const common = [
    '-config',
    configPath,
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-noenc',
    '-days',
    '2',
  ];
  await runCommand('openssl', [
    'req',
    ...common,
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-subj',
    '/CN=acmecli test client CA',
    '-extensions',
    'ca_ext',
  ]);
  await runCommand('openssl', [
    'req',
    ...common,
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    `/CN=${commonName}`,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-extensions',
    'client_ext',
  ]);
  const [caPem, certificatePem, keyPem] = await Promise.all([
    readFile(caCert, 'utf8'),
    readFile(cert, 'utf8'),
    readFile(key, 'utf8'),
  ]);
  return { caPem, certificatePem, keyPem };
}

export interface FrontRequest {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** Path and query as forwarded to Pebble. */
  upstreamPath: string;
  /** Subject CN of the client certificate the request came with. */
  clientCommonName: string | undefined;
  /** Upstream status, or 502 when Pebble could not be reached. */
  status?: number;
}

export interface TlsFrontOptions {
  /** Pebble's origin, e.g. https://127.0.0.1:14000. */
  upstreamOrigin: string;
  upstreamCaPem: string;
  /** Map EJBCA-shaped directory URLs to Pebble's /dir. */
  ejbcaPaths?: boolean;
}

export interface TlsFront {
  readonly port: number;
  readonly origin: string;
  /** PEM of the CA that signed the front's own server certificate (for the client's CA bundle). */
  readonly serverCaPem: string;
  /** A client certificate the front accepts. */
  readonly client: ClientCertificate;
  /** Every HTTP request that got past the TLS handshake. */
  readonly requests: FrontRequest[];
  /** TLS handshakes the front refused (no or untrusted client certificate), with the reason. */
  readonly refusedHandshakes: string[];
  stop(): Promise<void>;
}

/** Maps an EJBCA directory URL to Pebble's; anything else passes unchanged. */
export function ejbcaToPebblePath(path: string): string {
  const url = new URL(path, 'https://front.invalid');
  if (/^\/ejbca\/acme\/[^/]+\/directory$/.test(url.pathname)) return '/dir';
  if (url.pathname === '/ejbca/acme/directory' && url.searchParams.has('configurationId')) return '/dir';
  return path;
}

export async function startTlsFront(options: TlsFrontOptions): Promise<TlsFront> {
  const dir = await makeTempDir('tls-front');
  let server: Server | undefined;
  try {
    const [serverTls, client] = await Promise.all([makeTestTls(dir), makeClientCertificate(dir)]);
    const [serverKey, serverCert] = await Promise.all([
      readFile(serverTls.serverKeyPath, 'utf8'),
      readFile(serverTls.serverCertPath, 'utf8'),
    ]);
    const requests: FrontRequest[] = [];
    const refusedHandshakes: string[] = [];
    const upstream = new URL(options.upstreamOrigin);

    const front: Server = createServer(
      { key: serverKey, cert: serverCert, ca: client.caPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const path = req.url ?? '/';
        const upstreamPath = options.ejbcaPaths ? ejbcaToPebblePath(path) : path;
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const entry: FrontRequest = {
          method: req.method ?? 'GET',
          path,
          upstreamPath,
          clientCommonName: typeof peer?.subject?.CN === 'string' ? peer.subject.CN : undefined,
        };
        requests.push(entry);
        const forward = httpsRequest(
          {
            hostname: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: upstreamPath,
            // The client's Host (this front) is kept, so Pebble's URLs point back here.
            headers: req.headers,
            ca: options.upstreamCaPem,
            agent: false,
          },
          (answer) => {
            entry.status = answer.statusCode ?? 0;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', (error) => {
          entry.status = 502;
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`front: upstream failed: ${error.message}`);
        });
        req.pipe(forward);
      },
    );
    front.on('tlsClientError', (error: NodeJS.ErrnoException) => {
      refusedHandshakes.push(error.code ?? error.message);
    });
    server = front;
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (front.address() as AddressInfo).port;
    return {
      port,
      origin: `https://127.0.0.1:${port}`,
      serverCaPem: serverTls.caCertPem,
      client,
      requests,
      refusedHandshakes,
      stop: async () => {
        front.closeAllConnections();
        await new Promise<void>((resolve) => front.close(() => resolve()));
        await removeTempDir(dir);
      },
    };
  } catch (error) {
    server?.close();
    await removeTempDir(dir);
    throw error;
  }
}
