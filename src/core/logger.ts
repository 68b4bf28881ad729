// A structured logger hook with pino's call shape, so a pino logger plugs in as it is.
// bosun prints nothing by default: the default logger drops everything.

export interface LogFn {
  (obj: object, msg?: string): void;
}

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const drop: LogFn = () => {};

export const silentLogger: Logger = { debug: drop, info: drop, warn: drop, error: drop };
