// The database drivers are optional peer dependencies: PGlite alone is 27 MB, and someone who
// only wants a Supervisor should not install it. A store loads its driver when it is opened, so
// `import 'bosun/queue'` works without either, and a missing driver fails the open with a
// message that names the package to install.

import { BosunError } from '../core/errors.js';

/** A store was opened whose database driver is not installed; `driver` names the npm package. */
export class DriverMissingError extends BosunError {
  readonly driver: string;
  constructor(store: string, driver: string, cause: unknown) {
    super('ERR_DRIVER_MISSING', `${store} needs the package ${driver}, which is not installed: run npm install ${driver}`, { cause });
    this.driver = driver;
  }
}

/**
 * Imports `driver` for `store` through `importer` (a literal `import('...')`, so bundlers and
 * the types see it). Only the driver itself being absent becomes DriverMissingError; any other
 * failure (a broken install, a missing dependency of the driver) is thrown as it is. The driver's
 * types stay inside the store's module, so bosun's declarations never name a driver package.
 */
export async function loadDriver<T>(store: string, driver: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(`'${driver}'`)) throw new DriverMissingError(store, driver, err);
    throw err;
  }
}
