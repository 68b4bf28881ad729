// bosun core: the Worker model (kill + wait), the Clock every timer goes through,
// Catacomb for workers that live and die together, Supervisor trees and Runner.
export * from './errors.js';
export * from './clock.js';
export * from './logger.js';
export * from './worker.js';
export * from './catacomb.js';
