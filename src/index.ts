// bosun: keeps work running. The root export holds core (Worker, Clock, Catacomb,
// Supervisor, Runner, errors) and the dependency engine.
export * from './core/index.js';
export * from './engine/index.js';
