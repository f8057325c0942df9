/**
 * `revoke`: by certificate name (the lineage's account signs) or by certificate file, signed with
 * the certificate's own key when `--key-path` is given (the account may be gone).
 */
import { UsageError } from '../errors.js';
import { REVOCATION_REASONS, type RevocationReasonName } from '../acme/types.js';
import { parseCertificate, splitPemChain } from '../crypto/certificate.js';
import { certificateMatchesKey } from '../crypto/certificate.js';
import { generateKey, loadPrivateKeyPem } from '../crypto/keys.js';
import { deleteLineage, readLineage } from '../store/certificate-store.js';
import { openSession } from './ca-session.js';
import { MAX_CERTIFICATES_FILE_BYTES, MAX_KEY_FILE_BYTES, readUserFile } from '../store/user-file.js';
import type { ConnectionSettings, RunContext } from './context.js';
import { lockCertificate } from './issue.js';

export interface RevokeInput {
  certName?: string;
  certPath?: string;
  keyPath?: string;
  reason?: number;
  deleteAfter: boolean;
}

export interface RevokeResult {
  certName?: string;
  serial: string;
  identifiers: string[];
  reason: number;
  signedWith: 'account' | 'certificate key';
  deleted: boolean;
}

/** `--reason`: an RFC 5280 name (any case, with or without spaces/dashes) or number. */
export function parseRevocationReason(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const value = Number(trimmed);
    if ((Object.values(REVOCATION_REASONS) as number[]).includes(value)) return value;
  }
  const normalized = trimmed.replace(/[\s_-]/g, '').toLowerCase();
  const match = (Object.keys(REVOCATION_REASONS) as RevocationReasonName[]).find(
    (name) => name.toLowerCase() === normalized,
  );
  if (match) return REVOCATION_REASONS[match];
  throw new UsageError(
    `invalid revocation reason "${trimmed}" for --reason: use one of ${Object.entries(REVOCATION_REASONS)
      .map(([n, v]) => `${n} (${v})`)
      .join(', ')}`,
  );
}

export async function revokeCertificate(context: RunContext, input: RevokeInput): Promise<RevokeResult> {
  if ((input.certName === undefined) === (input.certPath === undefined)) {
    throw new UsageError('give either --cert-name NAME or --cert-path FILE');
  }
  if (input.deleteAfter && !input.certName)
    throw new UsageError("--delete needs --cert-name (a file given with --cert-path is not acmecli's to delete)");
  const reason = input.reason ?? REVOCATION_REASONS.unspecified;
  const lock = input.certName ? await lockCertificate(context, input.certName, false) : undefined;
  try {
    let certPem: string;
    let connection: ConnectionSettings = context;
    let accountName = context.accountName;
    if (input.certName) {
      const lineage = await readLineage(context.configDir, input.certName);
      if (!lineage) throw new UsageError(`no certificate named "${input.certName}" in ${context.configDir}`);
      certPem = lineage.files.cert;
      connection = {
        server: lineage.settings.server,
        ...(lineage.settings.caBundle
          ? { caBundle: lineage.settings.caBundle }
          : context.caBundle
            ? { caBundle: context.caBundle }
            : {}),
        ...(lineage.settings.clientCert ? { clientCert: lineage.settings.clientCert } : {}),
        ...(lineage.settings.clientKey ? { clientKey: lineage.settings.clientKey } : {}),
      };
      accountName = lineage.settings.account;
    } else {
      const text = await readUserFile(input.certPath as string, '--cert-path', MAX_CERTIFICATES_FILE_BYTES);
      certPem = splitPemChain(text, input.certPath as string)[0] as string;
    }
    const info = parseCertificate(certPem);
    let certificateKey;
    if (input.keyPath) {
      certificateKey = loadPrivateKeyPem(
        await readUserFile(input.keyPath, '--key-path', MAX_KEY_FILE_BYTES),
        `--key-path ${input.keyPath}`,
      );
      if (!certificateMatchesKey(certPem, certificateKey)) {
        throw new UsageError(`--key-path ${input.keyPath} is not the key of certificate ${info.serialHex}`);
      }
    }
    const session = await openSession(context, {
      connection,
      accountName,
      // The client needs some account key even when the certificate key signs.
      ...(certificateKey ? { fallbackKey: await generateKey('ec256') } : {}),
    });
    try {
      const step = context.reporter.step(
        `Revoking certificate ${info.serialHex} (${info.identifiers.map((i) => i.value).join(', ')})`,
      );
      try {
        await session.client.revokeCertificate(info.der, {
          reason,
          signal: context.signal,
          ...(certificateKey ? { certificateKey } : {}),
        });
        step.succeed(`Revoked certificate ${info.serialHex}`);
      } catch (error) {
        step.fail();
        throw error;
      }
    } finally {
      await session.close();
    }
    const deleted =
      input.deleteAfter && input.certName ? await deleteLineage(context.configDir, input.certName) : false;
    return {
      ...(input.certName ? { certName: input.certName } : {}),
      serial: info.serialHex,
      identifiers: info.identifiers.map((i) => i.value),
      reason,
      signedWith: certificateKey ? 'certificate key' : 'account',
      deleted,
    };
  } finally {
    lock?.release();
  }
}
