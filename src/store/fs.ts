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
