// runMain: the `main()` of a service process. It builds the Service from process.argv and
// process.env, logs through pino, prints --help, stops gracefully on SIGINT/SIGTERM within
// --shutdown-timeout (a second signal exits at once), and exits 0 after a clean stop, 1 after
// a failure or a forced exit.

import { toError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { OptionError } from './errors.js';
import { Service, type ServiceOptions } from './service.js';

export interface RunMainOptions extends ServiceOptions {
  /** Signals that start a graceful stop. Default SIGINT and SIGTERM. */
  signals?: NodeJS.Signals[];
  /** Called with the exit code. Default `process.exit`. */
  exit?: (code: number) => void;
}

/** Runs the service until it stops; resolves with the exit code it passed to `exit`. */
export async function runMain(opts: RunMainOptions): Promise<number> {
  // pino is loaded here, not when bosun/service is imported: an embedded Service brings its own logger.
  // Written synchronously: lines reach stdout in the order they were logged and none is lost at
  // exit (an asynchronous destination flushed at exit could put a buffered line before one in flight).
  const pino = opts.logger === undefined ? (await import('pino')).pino : undefined;
  const pinoLogger = pino?.({ name: opts.name }, pino.destination({ dest: 1, sync: true }));
  const logger: Logger = opts.logger ?? (pinoLogger as unknown as Logger);
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM'];
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveCode!: (code: number) => void;
  const codeP = new Promise<number>((r) => (resolveCode = r));

  const finish = (code: number) => {
    if (finished) return;
    finished = true;
    for (const s of signals) process.off(s, onSignal);
    if (timer !== undefined) clearTimeout(timer);
    pinoLogger?.flush();
    resolveCode(code);
    exit(code);
  };

  let service: Service;
  try {
    service = new Service({ ...opts, argv: opts.argv ?? process.argv.slice(2), env: opts.env ?? process.env, logger });
  } catch (err) {
    const e = toError(err);
    logger.error({ err: e }, `cannot build service ${opts.name}: ${e.message}`);
    process.stderr.write(`${opts.name}: ${e.message}\n`);
    finish(1);
    return codeP;
  }
  if (service.helpRequested) {
    process.stdout.write(service.helpText());
    finish(0);
    return codeP;
  }

  let signalled = 0;
  function onSignal(signal: NodeJS.Signals): void {
    signalled++;
    if (signalled > 1) {
      logger.error({ signal }, `received ${signal} again; exiting now`);
      finish(1);
      return;
    }
    const ms = service.shutdownTimeoutMs;
    logger.info({ signal, shutdownTimeoutMs: ms }, `received ${signal}; stopping (at most ${ms} ms)`);
    service.kill();
    timer = setTimeout(() => {
      logger.error({ shutdownTimeoutMs: ms }, `service did not stop within ${ms} ms (--shutdown-timeout); exiting`);
      finish(1);
    }, ms);
  }
  for (const s of signals) process.on(s, onSignal);

  try {
    await service.wait();
    logger.info({}, 'exiting cleanly');
    finish(0);
  } catch (err) {
    const e = toError(err);
    logger.error({ err: e }, `service ${opts.name} failed: ${e.message}`);
    if (e instanceof OptionError) process.stderr.write(`${opts.name}: ${e.message} (see --help)\n`);
    finish(1);
  }
  return codeP;
}
