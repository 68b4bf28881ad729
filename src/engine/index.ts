// bosun's dependency engine (after juju/worker/dependency): workers that need other workers.
//
// A supervisor restarts workers that fail; it does not know that the API client needs the
// connection, or that the uploader needs both. An Engine does. Install named manifolds, each
// saying which others it needs (`inputs`) and how to start its worker from their outputs:
//
//   const engine = new Engine({ isFatal: (e) => e instanceof UnauthorizedError });
//   engine.install('conn', { start: async () => connectWorker(), output: (w) => (w as ConnWorker).conn });
//   engine.install('api', { inputs: ['conn'], start: async (ctx) => apiWorker(ctx.get<Conn>('conn')) });
//
// The engine starts `api` only once `conn` runs, and when `conn` stops or restarts it stops
// `api` first (dependents always stop before their inputs) and starts it again once `conn` is
// back. Errors restart a manifold with capped, fuzzed exponential backoff; `MissingError`
// waits for an input to change instead of spinning; `BounceError` restarts at once;
// `UninstallError` removes the manifold. What it prevents: hand-written start orders that break
// the first time a dependency restarts underneath its users.
//
// Gate and Fortress are small coordination workers commonly installed as manifolds.
export { Engine } from './engine.js';
export type { EngineOptions } from './options.js';
export type { Manifold, StartContext, ManifoldState, ManifoldReport, EngineReport } from './manifold.js';
export { MissingError, BounceError, UninstallError, UndeclaredInputError, NoOutputError, CycleError, AbortedError } from './errors.js';
export { Gate, gateManifold } from './gate.js';
export { Fortress, fortressManifold, type Guard, type Guest } from './fortress.js';
