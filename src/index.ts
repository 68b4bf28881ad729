// bosun: keeps work running. The root export holds core (Worker, Clock, Catacomb,
// Supervisor, Runner, errors) and the dependency engine.
export * from './core/index.js';
export * from './engine/index.js';
// Reporter: report() on Engine, Runner, Supervisor, Service and ProcessPool.
export { type Reporter, isReporter, reportOf } from './core/reporter.js';
export { ReusedWorkerError } from './core/reused-worker.js';
// Types a daemon config written in JavaScript: `export default defineConfig({ programs: {...} })`.
export { defineConfig } from './fleet/define-config.js';
export type { ConfigInput, ProgramInput, ReadyInput, BackoffInput, FleetInput } from './fleet/define-config.js';
