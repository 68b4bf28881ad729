// bosun core: the Worker model (kill + wait), the Clock every timer goes through,
// Catacomb for workers that live and die together, Supervisor trees and Runner.
export * from './errors.js';
export * from './clock.js';
export * from './logger.js';
export * from './worker.js';
export * from './catacomb.js';
export { parseDuration, parseSize } from './duration.js';
export { dependencyOrder, findCycles, type DependencyOrder } from './graph.js';
export { Fifo } from './fifo.js';
export { type BackoffOptions, defaultBackoff, backoffDelay, nextFailure, exponentialDelay, jittered } from './backoff.js';
export {
  type Strategy,
  type RestartType,
  type ShutdownMs,
  type AutoShutdown,
  type ChildState,
  type ChildKind,
  type ChildSpec,
  type ChildInfo,
} from './child-spec.js';
export { type Listener } from './events.js';
export * from './supervisor.js';
export * from './runner.js';
