/** Where every layer below the CLI writes progress. Injected, never global. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
};
