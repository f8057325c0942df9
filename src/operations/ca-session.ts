/**
 * Opens a conversation with a CA: TLS material read from the configured files, the account of
 * this config dir loaded from the store (when there is one), and an AcmeClient around both.
 */
import type { KeyObject } from 'node:crypto';
import { AcmeClient } from '../acme/client.js';
import { Transport } from '../acme/transport.js';
import { loadPrivateKeyPem } from '../crypto/keys.js';
import { LocalError, UsageError } from '../errors.js';
import { loadAccount, type StoredAccount } from '../store/account-store.js';
import { MAX_CERTIFICATES_FILE_BYTES, MAX_KEY_FILE_BYTES, readUserFile } from '../store/user-file.js';
import type { ConnectionSettings, RunContext } from './context.js';

export interface CaSession {
  client: AcmeClient;
  transport: Transport;
  /** The stored account, when this config dir has one for the server and account name. */
  account: StoredAccount | undefined;
  close(): Promise<void>;
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
