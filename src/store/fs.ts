/**
 * The file-system calls acmecli makes, as promises over node:fs's callback API.
 *
 * Not node:fs/promises: in Node 24 loading it also loads readline, the REPL history and the file
 * watchers (for FileHandle.readLines and fs.watch), 0.4-0.8 MiB of every run's resident memory
 * (issue 7). An open file here is a descriptor with the three operations the store uses.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

export const access = promisify(fs.access);
export const chmod = promisify(fs.chmod);
export const link = promisify(fs.link);
export const lstat = promisify(fs.lstat);
export const mkdir = promisify(fs.mkdir);
export const mkdtemp = promisify(fs.mkdtemp);
export const readdir = promisify(fs.readdir);
// The callback API takes a signal as fs/promises does; @types/node's promisified type omits it.
export const readFile = promisify(fs.readFile) as typeof import('node:fs/promises').readFile;
export const readlink = promisify(fs.readlink);
export const rename = promisify(fs.rename);
export const rm = promisify(fs.rm);
export const rmdir = promisify(fs.rmdir);
export const stat = promisify(fs.stat);
export const symlink = promisify(fs.symlink);
export const unlink = promisify(fs.unlink);
export const writeFile = promisify(fs.writeFile);
const openDescriptor = promisify(fs.open);
const fsync = promisify(fs.fsync);
const close = promisify(fs.close);

export interface OpenFile {
  writeFile(data: string | Uint8Array): Promise<void>;
  /** fsync(2): the data is on disk when this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export async function open(path: string, flags: string, mode?: number): Promise<OpenFile> {
  const fd = await openDescriptor(path, flags, mode);
  return {
    writeFile: (data) => writeFile(fd, data),
    sync: () => fsync(fd),
    close: () => close(fd),
  };
}

const read = promisify(fs.read);
const fstat = promisify(fs.fstat);

export interface CappedRead {
  bytes: Buffer;
  /** The file holds more than the cap: `bytes` is its first cap + 1 bytes. */
  tooLarge: boolean;
  /** fstat of the opened file (no second look-up by path). */
  stats: fs.Stats;
}

/**
 * Reads a small file the user names (a key file) without trusting its size: at most `maxBytes` + 1
 * bytes are read, so a huge file or /dev/zero costs nothing. Works on pipes too (/dev/stdin,
 * a shell's `<(...)`), whose size stat does not know.
 */
export async function readCapped(path: string, maxBytes: number): Promise<CappedRead> {
  const fd = await openDescriptor(path, 'r');
  try {
    const stats = await fstat(fd);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await read(fd, buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { bytes: buffer.subarray(0, Math.min(length, maxBytes)), tooLarge: length > maxBytes, stats };
  } finally {
    await close(fd);
  }
}
