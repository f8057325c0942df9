/**
 * The External Account Binding of `register` and `issue`: the key id from --eab-kid, the MAC key
 * from one of --eab-hmac-key, ACMECLI_EAB_HMAC_KEY, --eab-hmac-key-file (ACMECLI_EAB_HMAC_KEY_FILE)
 * or config.ini. A command line is readable by every local user (`ps`, /proc/<pid>/cmdline), so
 * the help steers to the environment or a file.
 */
import { decodeEabHmacKey, EAB_ALGORITHMS, type EabAlgorithm, type ExternalAccountBinding } from '../acme/jws.js';
import { UsageError } from '../errors.js';
import type { Reporter } from '../output/reporter.js';
import { readUserFileBytes } from '../store/user-file.js';
import type { CommandLine } from './action.js';
import { stringOption } from './input.js';

/** A MAC key is 32 to 64 bytes, under 100 characters of base64: a larger file is not one. */
const MAX_MAC_KEY_FILE_BYTES = 4096;

// Where an option's value came from, strongest first (the README's precedence).
const SOURCE_RANK: Readonly<Record<string, number>> = { cli: 0, env: 1, config: 2 };

/** The binding the options ask for; the MAC key file is read only when the binding is used. */
export interface EabInput {
  keyId: string;
  hmacKey: { value: string } | { file: string };
  algorithm: EabAlgorithm;
}

/** The binding the options ask for, or undefined without one. */
export function parseEab(line: CommandLine): EabInput | undefined {
  const inline = stringOption(line, '--eab-hmac-key');
  const file = stringOption(line, '--eab-hmac-key-file');
  let hmacKey: EabInput['hmacKey'] | undefined;
  if (inline !== undefined && file !== undefined) {
    const rank = (attribute: string) => SOURCE_RANK[line.sourceOf(attribute) ?? ''] ?? 3;
    if (rank('eabHmacKey') === rank('eabHmacKeyFile')) {
      throw new UsageError('--eab-hmac-key and --eab-hmac-key-file both give the EAB MAC key: give one');
    }
    hmacKey = rank('eabHmacKeyFile') < rank('eabHmacKey') ? { file } : { value: inline };
  } else if (file !== undefined) {
    hmacKey = { file };
  } else if (inline !== undefined) {
    hmacKey = { value: inline };
  }
  const keyId = stringOption(line, '--eab-kid');
  if ((keyId === undefined) !== (hmacKey === undefined)) {
    throw new UsageError(
      '--eab-kid and --eab-hmac-key go together (the MAC key may also come from ACMECLI_EAB_HMAC_KEY or --eab-hmac-key-file)',
    );
  }
  if (keyId === undefined || hmacKey === undefined) return undefined;
  // The file's key is checked as it is read, under the file's name.
  if ('value' in hmacKey) decodeEabHmacKey(hmacKey.value, '--eab-hmac-key');
  return { keyId, hmacKey, algorithm: parseEabAlgorithm(stringOption(line, '--eab-algorithm') ?? 'HS256') };
}

function parseEabAlgorithm(text: string): EabAlgorithm {
  const algorithm = EAB_ALGORITHMS.find((a) => a === text);
  if (!algorithm) throw new UsageError(`invalid --eab-algorithm "${text}": use ${EAB_ALGORITHMS.join(', ')}`);
  return algorithm;
}

/** The binding itself: the MAC key read from its file when it comes from one (registered as a secret). */
export async function resolveEab(input: EabInput, reporter: Reporter): Promise<ExternalAccountBinding> {
  const hmacKey = 'file' in input.hmacKey ? await readKeyFile(input.hmacKey.file, reporter) : input.hmacKey.value;
  return { keyId: input.keyId, hmacKey, algorithm: input.algorithm };
}

async function readKeyFile(path: string, reporter: Reporter): Promise<string> {
  const what = `--eab-hmac-key-file ${path}`;
  const read = await readUserFileBytes(path, '--eab-hmac-key-file', MAX_MAC_KEY_FILE_BYTES, 'not an EAB MAC key');
  // `echo KEY > file` and editors add a newline; a MAC key never holds whitespace.
  const key = read.bytes.toString('utf8').trim();
  if (key !== '') reporter.addSecret(key);
  decodeEabHmacKey(key, what);
  // A warning, not a refusal as OpenSSH's for a private key: the MAC key is used once, to bind a
  // new account, and refusing would not take back what others could already read. Pipes
  // (/dev/stdin, `<(...)`) have no meaningful mode.
  if (process.platform !== 'win32' && read.stats.isFile() && (read.stats.mode & 0o006) !== 0) {
    const mode = (read.stats.mode & 0o777).toString(8).padStart(4, '0');
    reporter.warn(`${what} (mode ${mode}) can be read or changed by other users of this host: chmod o-rw ${path}`);
  }
  return key;
}
