/**
 * Files a user names on the command line (`--csr`, `--ca-bundle`, `--eab-hmac-key-file`,
 * `--nsupdate-key-file`, ...): read without trusting their size, since a 700 MB file or /dev/zero
 * is the wrong file and reading it whole cost its size in memory (without end for /dev/zero)
 * before any message. Pipes work too (/dev/stdin, a shell's `<(...)`). A directory fails with the
 * system's EISDIR.
 *
 * Unreadable: LocalError (exit 6), as for any local file. Larger than the cap: UsageError (exit 2),
 * since the user named the wrong file. Both one line naming the flag and the path.
 */
import type { Stats } from 'node:fs';
import { localErrorFor, readCapped } from './fs.js';
import { formatSize } from './trust.js';
import { UsageError } from '../errors.js';

/** The most acmecli reads of a CA bundle or a certificate chain (the whole Mozilla bundle is about 220 KiB). */
export const MAX_CERTIFICATES_FILE_BYTES = 1024 * 1024;
/** The most acmecli reads of a private key or a CSR (an RSA 16384 key is 13 KiB). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

export interface UserFile {
  bytes: Buffer;
  /** fstat of the opened file: a regular file, a pipe or a device. */
  stats: Stats;
}

/**
 * The content of the file `flag` names, at most `maxBytes`. `tooLarge` says why a larger file is
 * refused, after its size.
 */
export async function readUserFileBytes(
  path: string,
  flag: string,
  maxBytes: number,
  tooLarge = 'the most acmecli reads of such a file',
): Promise<UserFile> {
  let read;
  try {
    read = await readCapped(path, maxBytes);
  } catch (error) {
    throw localErrorFor('read', `${flag} ${path}`, error);
  }
  if (read.tooLarge) throw new UsageError(`${flag} ${path}: more than ${formatSize(maxBytes)}, ${tooLarge}`);
  return { bytes: read.bytes, stats: read.stats };
}

/** readUserFileBytes as UTF-8 text. */
export async function readUserFile(path: string, flag: string, maxBytes: number, tooLarge?: string): Promise<string> {
  return (await readUserFileBytes(path, flag, maxBytes, tooLarge)).bytes.toString('utf8');
}
