/**
 * Opens a conversation with a CA: TLS material read from the configured files, the account of
 * this config dir loaded from the store (when there is one), and an AcmeClient around both.
 */
import { readCapped } from '../store/fs.js';
import type { KeyObject } from 'node:crypto';
import { AcmeClient } from '../acme/client.js';
import { Transport } from '../acme/transport.js';
import { loadPrivateKeyPem } from '../crypto/keys.js';
import { LocalError, UsageError } from '../errors.js';
import { loadAccount, type StoredAccount } from '../store/account-store.js';
import { codeOf } from '../store/atomic-write.js';
import { formatSize } from '../store/trust.js';
import type { ConnectionSettings, RunContext } from './context.js';

export interface CaSession {
  client: AcmeClient;
  transport: Transport;
  /** The stored account, when this config dir has one for the server and account name. */
  account: StoredAccount | undefined;
  close(): Promise<void>;
}

/**
 * What acmecli reads of a file named on the command line, at most: a CA bundle or a certificate
 * chain (the whole Mozilla bundle is about 220 KiB), and a private key or a CSR (an RSA 16384 key
 * is 13 KiB). A 700 MB file or /dev/zero is the wrong file; reading it whole cost its size in
 * memory, without end for /dev/zero, before any message.
 */
export const MAX_CERTIFICATES_FILE_BYTES = 1024 * 1024;
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * The first `maxBytes` of a file the user named (`what` is the flag), read without trusting its
 * size. Unreadable: LocalError, as for any local file; larger than the cap: UsageError, since the
 * user named the wrong file.
 */
export async function readUserFileBytes(path: string, what: string, maxBytes: number): Promise<Buffer> {
  let read;
  try {
    read = await readCapped(path, maxBytes);
  } catch (error) {
    const code = codeOf(error);
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (code ?? 'unreadable');
    throw new LocalError(`cannot read ${what} ${path}: ${reason}`, { cause: error });
  }
  if (read.tooLarge)
    throw new UsageError(`${what} ${path}: more than ${formatSize(maxBytes)}, the most acmecli reads of such a file`);
  return read.bytes;
}

export async function readUserFile(path: string, what: string, maxBytes: number): Promise<string> {
  return (await readUserFileBytes(path, what, maxBytes)).toString('utf8');
}

export async function createTransport(context: RunContext, connection: ConnectionSettings): Promise<Transport> {
  if ((connection.clientCert === undefined) !== (connection.clientKey === undefined)) {
    throw new UsageError('--client-cert and --client-key go together: give both for client-certificate TLS');
  }
  const caBundlePem = connection.caBundle
    ? await readUserFile(connection.caBundle, '--ca-bundle', MAX_CERTIFICATES_FILE_BYTES)
    : undefined;
  if (caBundlePem !== undefined && !caBundlePem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new LocalError(`--ca-bundle ${connection.caBundle} holds no PEM certificate`);
  }
  const clientCertificatePem = connection.clientCert
    ? await readUserFile(connection.clientCert, '--client-cert', MAX_CERTIFICATES_FILE_BYTES)
    : undefined;
  const clientKeyPem = connection.clientKey
    ? await readUserFile(connection.clientKey, '--client-key', MAX_KEY_FILE_BYTES)
    : undefined;
  if (clientKeyPem !== undefined) loadPrivateKeyPem(clientKeyPem, `--client-key ${connection.clientKey}`);
  return new Transport({
    userAgent: context.userAgent,
    ...(context.httpTimeoutMs !== undefined
      ? { responseTimeoutMs: context.httpTimeoutMs, connectTimeoutMs: Math.min(10_000, context.httpTimeoutMs) }
      : {}),
    proxy: context.proxy,
    ...(caBundlePem !== undefined ? { caBundlePem } : {}),
    ...(clientCertificatePem !== undefined ? { clientCertificatePem } : {}),
    ...(clientKeyPem !== undefined ? { clientKeyPem } : {}),
  });
}

/**
 * A session for `connection.server` and `accountName`. Without a stored account the client
 * signs with `fallbackKey` (registration, revocation by certificate key).
 */
export async function openSession(
  context: RunContext,
  options: {
    connection?: ConnectionSettings;
    accountName?: string;
    fallbackKey?: KeyObject;
    ignoreStoredAccount?: boolean;
  } = {},
): Promise<CaSession> {
  const connection = options.connection ?? context;
  const accountName = options.accountName ?? context.accountName;
  const account = options.ignoreStoredAccount
    ? undefined
    : await loadAccount(context.configDir, connection.server, accountName);
  const transport = await createTransport(context, connection);
  const accountKey = account
    ? loadPrivateKeyPem(account.key, `the key of account "${accountName}"`)
    : options.fallbackKey;
  if (!accountKey) {
    await transport.close();
    throw new UsageError(
      `no ACME account "${accountName}" for ${connection.server} in ${context.configDir}: run \`acmecli register\` first (or pass --email/--agree-tos/--eab-* to register on the fly)`,
    );
  }
  const client = new AcmeClient({
    directoryUrl: connection.server,
    accountKey,
    transport,
    log: context.reporter,
    ...(account ? { accountUrl: account.record.url } : {}),
  });
  return { client, transport, account, close: () => transport.close() };
}
